-- Contract invariant 7: purchase context, checkout speed, price-comparison time and time on site
-- follow the risk scenario (contract §2.1).
SELECT
  transaction_key, transaction_date, risk_scenario, purchase_context, checkout_speed,
  price_comparison_time, time_on_site_seconds
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND NOT CASE risk_scenario
    WHEN 'low_risk_purchase' THEN
      purchase_context = 'normal' AND checkout_speed IN ('normal', 'slow')
      AND price_comparison_time BETWEEN 60 AND 300 AND time_on_site_seconds BETWEEN 180 AND 900
    WHEN 'impulse_purchase' THEN
      purchase_context = 'impulse' AND checkout_speed = 'fast'
      AND price_comparison_time BETWEEN 0 AND 60 AND time_on_site_seconds BETWEEN 120 AND 300
    WHEN 'credit_stretched' THEN
      purchase_context = 'normal' AND checkout_speed = 'normal'
      AND price_comparison_time BETWEEN 60 AND 300 AND time_on_site_seconds BETWEEN 300 AND 600
    WHEN 'high_risk_behavior' THEN
      purchase_context = 'rushed' AND checkout_speed = 'very_fast'
      AND price_comparison_time BETWEEN 0 AND 30 AND time_on_site_seconds BETWEEN 30 AND 120
    ELSE FALSE
  END

-- Contract invariant 4: risk_level is the threshold function of risk_score (0.3 / 0.6 / 0.8,
-- lower bounds inclusive).
SELECT transaction_key, transaction_date, risk_score, risk_level
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND risk_level != CASE
    WHEN risk_score < 0.3 THEN 'low'
    WHEN risk_score < 0.6 THEN 'medium'
    WHEN risk_score < 0.8 THEN 'high'
    ELSE 'very_high'
  END

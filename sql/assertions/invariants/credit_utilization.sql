-- Contract invariant 6: credit_utilization is present exactly for credit_stretched records.
SELECT transaction_key, transaction_date, risk_scenario, credit_utilization
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND (credit_utilization IS NOT NULL) != (risk_scenario = 'credit_stretched')

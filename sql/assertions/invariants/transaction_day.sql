-- The partition day is the day of the record's timestamp (the client checks the requested day;
-- this re-checks what was loaded).
SELECT transaction_key, transaction_date, transaction_ts, _timestamp
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND (
    DATE(transaction_ts) != transaction_date
    OR SUBSTR(_timestamp, 1, 10) != CAST(transaction_date AS STRING)
  )

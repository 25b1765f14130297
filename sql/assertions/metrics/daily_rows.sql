-- Rows per day of a day-partitioned table ({{ relation }}) over the checked window.
SELECT transaction_date AS day, COUNT(*) AS n
FROM {{ relation }}
WHERE transaction_date BETWEEN @window_start AND @end_date
GROUP BY transaction_date

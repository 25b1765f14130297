-- Customers per day: rows, distinct source ids, and ids whose attributes changed inside the batch.
SELECT
  transaction_date AS day,
  COUNT(*) AS customer_rows,
  COUNT(DISTINCT CONCAT(batch_id, '/', customer_id)) AS customer_ids,
  COUNT(DISTINCT IF(attributes_changed, CONCAT(batch_id, '/', customer_id), NULL)) AS changed_ids
FROM {{ source('raw', 'customers') }}
WHERE transaction_date BETWEEN @window_start AND @end_date
GROUP BY transaction_date

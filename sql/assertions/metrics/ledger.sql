-- The ledger rows of the checked window (trailing drift window included): one row per loaded day.
SELECT
  transaction_date AS day,
  batch_id,
  source_url,
  status,
  request_body,
  request_seed,
  expected_records,
  records_received,
  records_loaded,
  records_quarantined,
  customers_loaded,
  customers_changed_attributes
FROM {{ source('raw', 'source_batches') }}
WHERE transaction_date BETWEEN @window_start AND @end_date

-- First and last day the ledger holds.
SELECT MIN(transaction_date) AS first_day, MAX(transaction_date) AS last_day
FROM {{ source('raw', 'source_batches') }}

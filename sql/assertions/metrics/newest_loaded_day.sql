-- The newest day the ledger holds, whatever the checked range.
SELECT MAX(transaction_date) AS newest FROM {{ source('raw', 'source_batches') }}

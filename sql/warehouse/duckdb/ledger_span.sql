-- The ledger's first and last day (the open-time integrity probe reads it whole).
SELECT min(transaction_date) AS first_day, max(transaction_date) AS last_day
FROM {{ table }}

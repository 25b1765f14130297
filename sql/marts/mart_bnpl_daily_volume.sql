{#
  mart_bnpl_daily_volume: one row per calendar day of the built range, loaded or not.

  Counts and money come from mart_bnpl_transactions (the audited copy while a build is audited),
  the expected volume from the ledger: expected_records is what the source must send for the
  day's request (contract section 3.1; exact for seeded requests). A day in the range without a
  ledger row is present with is_loaded = FALSE and zero counts, so completeness checks see gaps.
  Money sums are exact: integer cents, and NUMERIC dollars.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    unique_key='transaction_date',
    description='Daily volume: transaction and customer counts, exact amounts, day type and holiday, and the expected volume and load counts from the ledger, for every day of the built range.',
    grain='one row per calendar day (transaction_date)',
) }}
{{ column('transaction_date', 'DATE', 'The day', nullable=False) }}
{{ columns_from('int_bnpl_calendar_days', only=['day_type', 'holiday_name', 'day_of_week', 'is_weekend']) }}
{{ column('is_loaded', 'BOOL', 'The ledger has a row for the day', nullable=False) }}
{{ column('batch_id', 'STRING', "The day's batch (request); NULL when not loaded") }}
{{ column('transaction_count', 'INT64', 'Transactions in mart_bnpl_transactions', nullable=False) }}
{{ column('customer_count', 'INT64', 'Distinct customer keys with a transaction', nullable=False) }}
{{ column('amount_cents', 'INT64', 'Sum of amounts in integer cents (exact)', nullable=False) }}
{{ column('amount', 'NUMERIC', 'Sum of amounts in USD (exact)', nullable=False) }}
{{ column('avg_amount', 'NUMERIC', 'Mean amount in USD rounded to the cent; NULL without transactions') }}
{{ column('default_count', 'INT64', 'Transactions that will default (outcome: analytics only)', nullable=False) }}
{{ column('expected_volume', 'INT64', "Ledger expected_records: records the source must send for the day's request") }}
{{ column('records_received', 'INT64', 'Ledger: records framed from the response') }}
{{ column('records_loaded', 'INT64', 'Ledger: rows written to bnpl_raw.transactions') }}
{{ column('records_quarantined', 'INT64', 'Ledger: rows written to bnpl_raw.quarantine') }}
{{ column('volume_ratio', 'FLOAT64', 'transaction_count / expected_volume; NULL without an expectation') }}

WITH days AS (
  SELECT *
  FROM {{ ref('int_bnpl_calendar_days') }}
  WHERE calendar_date BETWEEN @start_date AND @end_date
),

daily AS (
  SELECT
    t.transaction_date,
    COUNT(*) AS transaction_count,
    COUNT(DISTINCT t.customer_key) AS customer_count,
    SUM(t.amount_cents) AS amount_cents,
    COUNTIF(t.will_default) AS default_count
  FROM {{ ref('mart_bnpl_transactions') }} AS t
  WHERE t.transaction_date BETWEEN @start_date AND @end_date
  GROUP BY t.transaction_date
),

ledger AS (
  SELECT
    b.transaction_date,
    b.batch_id,
    b.expected_records,
    b.records_received,
    b.records_loaded,
    b.records_quarantined
  FROM {{ source('raw', 'source_batches') }} AS b
  WHERE b.transaction_date BETWEEN @start_date AND @end_date
)

SELECT
  d.calendar_date AS transaction_date,
  d.day_type,
  d.holiday_name,
  d.day_of_week,
  d.is_weekend,
  l.batch_id IS NOT NULL AS is_loaded,
  l.batch_id,
  COALESCE(v.transaction_count, 0) AS transaction_count,
  COALESCE(v.customer_count, 0) AS customer_count,
  COALESCE(v.amount_cents, 0) AS amount_cents,
  CAST(COALESCE(v.amount_cents, 0) AS NUMERIC) * NUMERIC '0.01' AS amount,
  CAST(ROUND(SAFE_DIVIDE(v.amount_cents, v.transaction_count)) AS NUMERIC) * NUMERIC '0.01' AS avg_amount,
  COALESCE(v.default_count, 0) AS default_count,
  l.expected_records AS expected_volume,
  l.records_received,
  l.records_loaded,
  l.records_quarantined,
  SAFE_DIVIDE(COALESCE(v.transaction_count, 0), l.expected_records) AS volume_ratio
FROM days AS d
LEFT JOIN daily AS v
  ON v.transaction_date = d.calendar_date
LEFT JOIN ledger AS l
  ON l.transaction_date = d.calendar_date

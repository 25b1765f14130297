{#
  int_bnpl_live_minutes: today so far, per minute, straight from the live table.

  A view over bnpl_raw.live_transactions (rows the live loader wrote, seconds after the gateway
  acknowledged them), so it is as fresh as the loader: it is not audited or published (a mart
  is a published copy, hours old by design). "Today" is the UTC day (a live row's
  transaction_ts is naive UTC). The approval mix is the mix of risk levels (low, medium, high,
  very_high), the score band the approve / review / decline decision is made from.
#}
{{ config(
    materialized='view',
    description='Today so far from the live table, per minute (UTC): transactions, customers, exact amounts, and the approval mix by risk level.',
    grain='one row per minute of the current UTC day with at least one live transaction',
) }}
{{ column('minute', 'DATETIME', 'The minute (UTC, naive), truncated from transaction_ts', nullable=False) }}
{{ column('transaction_count', 'INT64', 'Live transactions in the minute', nullable=False) }}
{{ column('customer_count', 'INT64', 'Distinct customer keys in the minute', nullable=False) }}
{{ column('amount_cents', 'INT64', 'Sum of amounts in integer cents (exact)', nullable=False) }}
{{ column('low_risk_count', 'INT64', 'Transactions with risk_level low (approve)', nullable=False) }}
{{ column('medium_risk_count', 'INT64', 'Transactions with risk_level medium', nullable=False) }}
{{ column('high_risk_count', 'INT64', 'Transactions with risk_level high', nullable=False) }}
{{ column('very_high_risk_count', 'INT64', 'Transactions with risk_level very_high (decline)', nullable=False) }}
{{ column('last_received_at', 'TIMESTAMP', 'Newest gateway arrival among the minute\'s rows', nullable=False) }}

SELECT
  DATETIME_TRUNC(t.transaction_ts, MINUTE) AS minute,
  COUNT(*) AS transaction_count,
  COUNT(DISTINCT t.customer_key) AS customer_count,
  -- a view has no declared types: the casts keep INT64 on DuckDB too (SUM and COUNTIF give HUGEINT)
  CAST(SUM(t.amount_cents) AS INT64) AS amount_cents,
  CAST(COUNTIF(t.risk_level = 'low') AS INT64) AS low_risk_count,
  CAST(COUNTIF(t.risk_level = 'medium') AS INT64) AS medium_risk_count,
  CAST(COUNTIF(t.risk_level = 'high') AS INT64) AS high_risk_count,
  CAST(COUNTIF(t.risk_level = 'very_high') AS INT64) AS very_high_risk_count,
  MAX(t.received_at) AS last_received_at
FROM {{ source('raw', 'live_transactions') }} AS t
WHERE t.transaction_date = CURRENT_DATE()
GROUP BY minute

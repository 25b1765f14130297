-- probe
SELECT
  *
FROM (
SELECT
  DATETIME_TRUNC(t.transaction_ts, MINUTE) AS minute,
  COUNT(*) AS transaction_count,
  COUNT(DISTINCT t.customer_key) AS customer_count,
  CAST(SUM(t.amount_cents) AS INT64) AS amount_cents, /* a view has no declared types: the casts keep INT64 on DuckDB too (SUM and COUNTIF give HUGEINT) */
  CAST(COUNTIF(t.risk_level = 'low') AS INT64) AS low_risk_count,
  CAST(COUNTIF(t.risk_level = 'medium') AS INT64) AS medium_risk_count,
  CAST(COUNTIF(t.risk_level = 'high') AS INT64) AS high_risk_count,
  CAST(COUNTIF(t.risk_level = 'very_high') AS INT64) AS very_high_risk_count,
  MAX(t.received_at) AS last_received_at
FROM `proj.dev_bnpl_raw.live_transactions` AS t
WHERE
  t.transaction_date = CURRENT_DATE
GROUP BY
  minute
) AS _m
LIMIT 0;

-- view bnpl_intermediate.int_bnpl_live_minutes
CREATE OR REPLACE VIEW `proj.dev_bnpl_intermediate.int_bnpl_live_minutes` AS
SELECT
  DATETIME_TRUNC(t.transaction_ts, MINUTE) AS minute,
  COUNT(*) AS transaction_count,
  COUNT(DISTINCT t.customer_key) AS customer_count,
  CAST(SUM(t.amount_cents) AS INT64) AS amount_cents, /* a view has no declared types: the casts keep INT64 on DuckDB too (SUM and COUNTIF give HUGEINT) */
  CAST(COUNTIF(t.risk_level = 'low') AS INT64) AS low_risk_count,
  CAST(COUNTIF(t.risk_level = 'medium') AS INT64) AS medium_risk_count,
  CAST(COUNTIF(t.risk_level = 'high') AS INT64) AS high_risk_count,
  CAST(COUNTIF(t.risk_level = 'very_high') AS INT64) AS very_high_risk_count,
  MAX(t.received_at) AS last_received_at
FROM `proj.dev_bnpl_raw.live_transactions` AS t
WHERE
  t.transaction_date = CURRENT_DATE
GROUP BY
  minute;

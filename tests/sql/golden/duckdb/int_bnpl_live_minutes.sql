-- probe
SELECT
  *
FROM (
SELECT
  DATE_TRUNC('MINUTE', CAST(t.transaction_ts AS TIMESTAMP)) AS minute,
  COUNT(*) AS transaction_count,
  COUNT(DISTINCT t.customer_key) AS customer_count,
  CAST(SUM(t.amount_cents) AS BIGINT) AS amount_cents, /* a view has no declared types: the casts keep INT64 on DuckDB too (SUM and COUNTIF give HUGEINT) */
  CAST(COUNT_IF(t.risk_level = 'low') AS BIGINT) AS low_risk_count,
  CAST(COUNT_IF(t.risk_level = 'medium') AS BIGINT) AS medium_risk_count,
  CAST(COUNT_IF(t.risk_level = 'high') AS BIGINT) AS high_risk_count,
  CAST(COUNT_IF(t.risk_level = 'very_high') AS BIGINT) AS very_high_risk_count,
  MAX(t.received_at) AS last_received_at
FROM "bnpl_raw"."live_transactions" AS t
WHERE
  t.transaction_date = CURRENT_DATE
GROUP BY
  minute
) AS _m
LIMIT 0;

-- view bnpl_intermediate.int_bnpl_live_minutes
CREATE OR REPLACE VIEW "bnpl_intermediate"."int_bnpl_live_minutes" AS
SELECT
  DATE_TRUNC('MINUTE', CAST(t.transaction_ts AS TIMESTAMP)) AS minute,
  COUNT(*) AS transaction_count,
  COUNT(DISTINCT t.customer_key) AS customer_count,
  CAST(SUM(t.amount_cents) AS BIGINT) AS amount_cents, /* a view has no declared types: the casts keep INT64 on DuckDB too (SUM and COUNTIF give HUGEINT) */
  CAST(COUNT_IF(t.risk_level = 'low') AS BIGINT) AS low_risk_count,
  CAST(COUNT_IF(t.risk_level = 'medium') AS BIGINT) AS medium_risk_count,
  CAST(COUNT_IF(t.risk_level = 'high') AS BIGINT) AS high_risk_count,
  CAST(COUNT_IF(t.risk_level = 'very_high') AS BIGINT) AS very_high_risk_count,
  MAX(t.received_at) AS last_received_at
FROM "bnpl_raw"."live_transactions" AS t
WHERE
  t.transaction_date = CURRENT_DATE
GROUP BY
  minute;

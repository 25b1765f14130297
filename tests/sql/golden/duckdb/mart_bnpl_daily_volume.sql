-- probe
SELECT
  *
FROM (
WITH days AS (
  SELECT
    *
  FROM "bnpl_intermediate"."int_bnpl_calendar_days"
  WHERE
    calendar_date BETWEEN $start_date AND $end_date
), daily AS (
  SELECT
    t.transaction_date,
    COUNT(*) AS transaction_count,
    COUNT(DISTINCT t.customer_key) AS customer_count,
    SUM(t.amount_cents) AS amount_cents,
    COUNT_IF(t.will_default) AS default_count
  FROM "bnpl_marts"."mart_bnpl_transactions" AS t
  WHERE
    t.transaction_date BETWEEN $start_date AND $end_date
  GROUP BY
    t.transaction_date
), ledger AS (
  SELECT
    b.transaction_date,
    b.batch_id,
    b.expected_records,
    b.records_received,
    b.records_loaded,
    b.records_quarantined
  FROM "bnpl_raw"."source_batches" AS b
  WHERE
    b.transaction_date BETWEEN $start_date AND $end_date
)
SELECT
  d.calendar_date AS transaction_date,
  d.day_type,
  d.holiday_name,
  d.day_of_week,
  d.is_weekend,
  NOT l.batch_id IS NULL AS is_loaded,
  l.batch_id,
  COALESCE(v.transaction_count, 0) AS transaction_count,
  COALESCE(v.customer_count, 0) AS customer_count,
  COALESCE(v.amount_cents, 0) AS amount_cents,
  CAST(COALESCE(v.amount_cents, 0) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS amount,
  CAST(ROUND(
    CASE
      WHEN v.transaction_count <> 0
      THEN v.amount_cents / v.transaction_count
      ELSE NULL
    END
  ) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS avg_amount,
  COALESCE(v.default_count, 0) AS default_count,
  l.expected_records AS expected_volume,
  l.records_received,
  l.records_loaded,
  l.records_quarantined,
  CASE
    WHEN l.expected_records <> 0
    THEN COALESCE(v.transaction_count, 0) / l.expected_records
    ELSE NULL
  END AS volume_ratio
FROM days AS d
LEFT JOIN daily AS v
  ON v.transaction_date = d.calendar_date
LEFT JOIN ledger AS l
  ON l.transaction_date = d.calendar_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date
LIMIT 0;

-- replace_range bnpl_marts.mart_bnpl_daily_volume
DELETE FROM "bnpl_marts"."mart_bnpl_daily_volume"
WHERE
  transaction_date BETWEEN $start_date AND $end_date;

INSERT INTO "bnpl_marts"."mart_bnpl_daily_volume" (
  transaction_date,
  day_type,
  holiday_name,
  day_of_week,
  is_weekend,
  is_loaded,
  batch_id,
  transaction_count,
  customer_count,
  amount_cents,
  amount,
  avg_amount,
  default_count,
  expected_volume,
  records_received,
  records_loaded,
  records_quarantined,
  volume_ratio
)
SELECT
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.day_type AS TEXT) AS day_type,
  CAST(_m.holiday_name AS TEXT) AS holiday_name,
  CAST(_m.day_of_week AS BIGINT) AS day_of_week,
  CAST(_m.is_weekend AS BOOLEAN) AS is_weekend,
  CAST(_m.is_loaded AS BOOLEAN) AS is_loaded,
  CAST(_m.batch_id AS TEXT) AS batch_id,
  CAST(_m.transaction_count AS BIGINT) AS transaction_count,
  CAST(_m.customer_count AS BIGINT) AS customer_count,
  CAST(_m.amount_cents AS BIGINT) AS amount_cents,
  CAST(_m.amount AS DECIMAL(38, 9)) AS amount,
  CAST(_m.avg_amount AS DECIMAL(38, 9)) AS avg_amount,
  CAST(_m.default_count AS BIGINT) AS default_count,
  CAST(_m.expected_volume AS BIGINT) AS expected_volume,
  CAST(_m.records_received AS BIGINT) AS records_received,
  CAST(_m.records_loaded AS BIGINT) AS records_loaded,
  CAST(_m.records_quarantined AS BIGINT) AS records_quarantined,
  CAST(_m.volume_ratio AS DOUBLE) AS volume_ratio
FROM (
WITH days AS (
  SELECT
    *
  FROM "bnpl_intermediate"."int_bnpl_calendar_days"
  WHERE
    calendar_date BETWEEN $start_date AND $end_date
), daily AS (
  SELECT
    t.transaction_date,
    COUNT(*) AS transaction_count,
    COUNT(DISTINCT t.customer_key) AS customer_count,
    SUM(t.amount_cents) AS amount_cents,
    COUNT_IF(t.will_default) AS default_count
  FROM "bnpl_marts"."mart_bnpl_transactions" AS t
  WHERE
    t.transaction_date BETWEEN $start_date AND $end_date
  GROUP BY
    t.transaction_date
), ledger AS (
  SELECT
    b.transaction_date,
    b.batch_id,
    b.expected_records,
    b.records_received,
    b.records_loaded,
    b.records_quarantined
  FROM "bnpl_raw"."source_batches" AS b
  WHERE
    b.transaction_date BETWEEN $start_date AND $end_date
)
SELECT
  d.calendar_date AS transaction_date,
  d.day_type,
  d.holiday_name,
  d.day_of_week,
  d.is_weekend,
  NOT l.batch_id IS NULL AS is_loaded,
  l.batch_id,
  COALESCE(v.transaction_count, 0) AS transaction_count,
  COALESCE(v.customer_count, 0) AS customer_count,
  COALESCE(v.amount_cents, 0) AS amount_cents,
  CAST(COALESCE(v.amount_cents, 0) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS amount,
  CAST(ROUND(
    CASE
      WHEN v.transaction_count <> 0
      THEN v.amount_cents / v.transaction_count
      ELSE NULL
    END
  ) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS avg_amount,
  COALESCE(v.default_count, 0) AS default_count,
  l.expected_records AS expected_volume,
  l.records_received,
  l.records_loaded,
  l.records_quarantined,
  CASE
    WHEN l.expected_records <> 0
    THEN COALESCE(v.transaction_count, 0) / l.expected_records
    ELSE NULL
  END AS volume_ratio
FROM days AS d
LEFT JOIN daily AS v
  ON v.transaction_date = d.calendar_date
LEFT JOIN ledger AS l
  ON l.transaction_date = d.calendar_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date;

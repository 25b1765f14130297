-- probe
SELECT
  *
FROM (
WITH days AS (
  SELECT
    *
  FROM `proj.dev_bnpl_intermediate.int_bnpl_calendar_days`
  WHERE
    calendar_date BETWEEN @start_date AND @end_date
), daily AS (
  SELECT
    t.transaction_date,
    COUNT(*) AS transaction_count,
    COUNT(DISTINCT t.customer_key) AS customer_count,
    SUM(t.amount_cents) AS amount_cents,
    COUNTIF(t.will_default) AS default_count
  FROM `proj.dev_bnpl_marts.mart_bnpl_transactions` AS t
  WHERE
    t.transaction_date BETWEEN @start_date AND @end_date
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
  FROM `proj.dev_bnpl_raw.source_batches` AS b
  WHERE
    b.transaction_date BETWEEN @start_date AND @end_date
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
  CAST(COALESCE(v.amount_cents, 0) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS amount,
  CAST(ROUND(SAFE_DIVIDE(v.amount_cents, v.transaction_count)) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS avg_amount,
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
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date
LIMIT 0;

-- replace_range bnpl_marts.mart_bnpl_daily_volume
DELETE FROM `proj.dev_bnpl_marts.mart_bnpl_daily_volume`
WHERE
  transaction_date BETWEEN @start_date AND @end_date;

INSERT INTO `proj.dev_bnpl_marts.mart_bnpl_daily_volume` (
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
  CAST(_m.day_type AS STRING) AS day_type,
  CAST(_m.holiday_name AS STRING) AS holiday_name,
  CAST(_m.day_of_week AS INT64) AS day_of_week,
  CAST(_m.is_weekend AS BOOL) AS is_weekend,
  CAST(_m.is_loaded AS BOOL) AS is_loaded,
  CAST(_m.batch_id AS STRING) AS batch_id,
  CAST(_m.transaction_count AS INT64) AS transaction_count,
  CAST(_m.customer_count AS INT64) AS customer_count,
  CAST(_m.amount_cents AS INT64) AS amount_cents,
  CAST(_m.amount AS NUMERIC) AS amount,
  CAST(_m.avg_amount AS NUMERIC) AS avg_amount,
  CAST(_m.default_count AS INT64) AS default_count,
  CAST(_m.expected_volume AS INT64) AS expected_volume,
  CAST(_m.records_received AS INT64) AS records_received,
  CAST(_m.records_loaded AS INT64) AS records_loaded,
  CAST(_m.records_quarantined AS INT64) AS records_quarantined,
  CAST(_m.volume_ratio AS FLOAT64) AS volume_ratio
FROM (
WITH days AS (
  SELECT
    *
  FROM `proj.dev_bnpl_intermediate.int_bnpl_calendar_days`
  WHERE
    calendar_date BETWEEN @start_date AND @end_date
), daily AS (
  SELECT
    t.transaction_date,
    COUNT(*) AS transaction_count,
    COUNT(DISTINCT t.customer_key) AS customer_count,
    SUM(t.amount_cents) AS amount_cents,
    COUNTIF(t.will_default) AS default_count
  FROM `proj.dev_bnpl_marts.mart_bnpl_transactions` AS t
  WHERE
    t.transaction_date BETWEEN @start_date AND @end_date
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
  FROM `proj.dev_bnpl_raw.source_batches` AS b
  WHERE
    b.transaction_date BETWEEN @start_date AND @end_date
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
  CAST(COALESCE(v.amount_cents, 0) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS amount,
  CAST(ROUND(SAFE_DIVIDE(v.amount_cents, v.transaction_count)) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS avg_amount,
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
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date;

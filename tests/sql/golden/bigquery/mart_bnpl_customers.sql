-- probe
SELECT
  *
FROM (
WITH touched AS (
  SELECT
    p.customer_key
  FROM `proj.dev_bnpl_intermediate.int_bnpl_customer_profiles` AS p
  WHERE
    p.first_seen_date <= @end_date AND p.last_seen_date >= @start_date
  UNION DISTINCT
  SELECT
    previous.customer_key
  FROM `proj.dev_bnpl_marts.mart_bnpl_customers` AS previous
  WHERE
    previous.first_seen_date <= @end_date AND previous.last_seen_date >= @start_date
)
SELECT
  p.*
  EXCEPT (total_amount_cents, avg_amount_cents, max_amount_cents, default_count),
  p.total_amount_cents,
  CAST(p.total_amount_cents AS NUMERIC) * CAST('0.01' AS NUMERIC) AS total_amount,
  CAST(ROUND(p.avg_amount_cents) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS avg_amount,
  CAST(p.max_amount_cents AS NUMERIC) * CAST('0.01' AS NUMERIC) AS max_amount,
  p.default_count,
  SAFE_DIVIDE(p.default_count, p.transaction_count) AS default_rate,
  p.transaction_count > 1 AS is_repeat_customer
FROM `proj.dev_bnpl_intermediate.int_bnpl_customer_profiles` AS p
WHERE
  p.customer_key IN (
    SELECT
      touched.customer_key
    FROM touched
  )
) AS _m
LIMIT 0;

-- merge bnpl_marts.mart_bnpl_customers
CREATE OR REPLACE TEMPORARY TABLE _bnpl_new AS
SELECT
  CAST(_m.customer_key AS STRING) AS customer_key,
  CAST(_m.customer_id AS STRING) AS customer_id,
  CAST(_m.identity_scope AS STRING) AS identity_scope,
  CAST(_m.attribute_fingerprint AS STRING) AS attribute_fingerprint,
  CAST(_m.customer_age_bracket AS STRING) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS INT64) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS STRING) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS STRING) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS STRING) AS customer_verification_level,
  CAST(_m.customer_address_stability AS STRING) AS customer_address_stability,
  CAST(_m.customer_state AS STRING) AS customer_state,
  CAST(_m.first_seen_ts AS DATETIME) AS first_seen_ts,
  CAST(_m.last_seen_ts AS DATETIME) AS last_seen_ts,
  CAST(_m.first_seen_date AS DATE) AS first_seen_date,
  CAST(_m.last_seen_date AS DATE) AS last_seen_date,
  CAST(_m.active_days AS INT64) AS active_days,
  CAST(_m.batch_count AS INT64) AS batch_count,
  CAST(_m.transaction_count AS INT64) AS transaction_count,
  CAST(_m.avg_risk_score AS FLOAT64) AS avg_risk_score,
  CAST(_m.impulse_share AS FLOAT64) AS impulse_share,
  CAST(_m.high_risk_share AS FLOAT64) AS high_risk_share,
  CAST(_m.distinct_products AS INT64) AS distinct_products,
  CAST(_m.distinct_devices AS INT64) AS distinct_devices,
  CAST(_m.distinct_payment_methods AS INT64) AS distinct_payment_methods,
  CAST(_m.attributes_changed AS BOOL) AS attributes_changed,
  CAST(_m.changed_attribute_batches AS INT64) AS changed_attribute_batches,
  CAST(_m.total_amount_cents AS INT64) AS total_amount_cents,
  CAST(_m.total_amount AS NUMERIC) AS total_amount,
  CAST(_m.avg_amount AS NUMERIC) AS avg_amount,
  CAST(_m.max_amount AS NUMERIC) AS max_amount,
  CAST(_m.default_count AS INT64) AS default_count,
  CAST(_m.default_rate AS FLOAT64) AS default_rate,
  CAST(_m.is_repeat_customer AS BOOL) AS is_repeat_customer
FROM (
WITH touched AS (
  SELECT
    p.customer_key
  FROM `proj.dev_bnpl_intermediate.int_bnpl_customer_profiles` AS p
  WHERE
    p.first_seen_date <= @end_date AND p.last_seen_date >= @start_date
  UNION DISTINCT
  SELECT
    previous.customer_key
  FROM `proj.dev_bnpl_marts.mart_bnpl_customers` AS previous
  WHERE
    previous.first_seen_date <= @end_date AND previous.last_seen_date >= @start_date
)
SELECT
  p.*
  EXCEPT (total_amount_cents, avg_amount_cents, max_amount_cents, default_count),
  p.total_amount_cents,
  CAST(p.total_amount_cents AS NUMERIC) * CAST('0.01' AS NUMERIC) AS total_amount,
  CAST(ROUND(p.avg_amount_cents) AS NUMERIC) * CAST('0.01' AS NUMERIC) AS avg_amount,
  CAST(p.max_amount_cents AS NUMERIC) * CAST('0.01' AS NUMERIC) AS max_amount,
  p.default_count,
  SAFE_DIVIDE(p.default_count, p.transaction_count) AS default_rate,
  p.transaction_count > 1 AS is_repeat_customer
FROM `proj.dev_bnpl_intermediate.int_bnpl_customer_profiles` AS p
WHERE
  p.customer_key IN (
    SELECT
      touched.customer_key
    FROM touched
  )
) AS _m;

DELETE FROM `proj.dev_bnpl_marts.mart_bnpl_customers`
WHERE
  customer_key IN (
    SELECT
      customer_key
    FROM _bnpl_new
  )
  OR (
    first_seen_date <= @end_date AND last_seen_date >= @start_date
  );

INSERT INTO `proj.dev_bnpl_marts.mart_bnpl_customers` (
  customer_key,
  customer_id,
  identity_scope,
  attribute_fingerprint,
  customer_age_bracket,
  customer_tenure_days,
  customer_income_bracket,
  customer_credit_score_range,
  customer_verification_level,
  customer_address_stability,
  customer_state,
  first_seen_ts,
  last_seen_ts,
  first_seen_date,
  last_seen_date,
  active_days,
  batch_count,
  transaction_count,
  avg_risk_score,
  impulse_share,
  high_risk_share,
  distinct_products,
  distinct_devices,
  distinct_payment_methods,
  attributes_changed,
  changed_attribute_batches,
  total_amount_cents,
  total_amount,
  avg_amount,
  max_amount,
  default_count,
  default_rate,
  is_repeat_customer
)
SELECT
  customer_key,
  customer_id,
  identity_scope,
  attribute_fingerprint,
  customer_age_bracket,
  customer_tenure_days,
  customer_income_bracket,
  customer_credit_score_range,
  customer_verification_level,
  customer_address_stability,
  customer_state,
  first_seen_ts,
  last_seen_ts,
  first_seen_date,
  last_seen_date,
  active_days,
  batch_count,
  transaction_count,
  avg_risk_score,
  impulse_share,
  high_risk_share,
  distinct_products,
  distinct_devices,
  distinct_payment_methods,
  attributes_changed,
  changed_attribute_batches,
  total_amount_cents,
  total_amount,
  avg_amount,
  max_amount,
  default_count,
  default_rate,
  is_repeat_customer
FROM _bnpl_new;

DROP TABLE IF EXISTS _bnpl_new;

-- probe
SELECT
  *
FROM (
WITH touched AS (
  SELECT
    e.customer_key
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.transaction_date BETWEEN $start_date AND $end_date
  UNION
  SELECT
    previous.customer_key
  FROM "bnpl_intermediate"."int_bnpl_customer_profiles" AS previous
  WHERE
    previous.first_seen_date <= $end_date AND previous.last_seen_date >= $start_date
), history AS (
  SELECT
    e.*
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.customer_key IN (
      SELECT
        touched.customer_key
      FROM touched
    )
)
SELECT
  h.customer_key,
  MIN(h.customer_id) AS customer_id,
  MIN(h.identity_scope) AS identity_scope,
  MIN(h.attribute_fingerprint) AS attribute_fingerprint,
  MIN(h.customer_age_bracket) AS customer_age_bracket,
  MIN(h.customer_tenure_days) AS customer_tenure_days,
  MIN(h.customer_income_bracket) AS customer_income_bracket,
  MIN(h.customer_credit_score_range) AS customer_credit_score_range,
  MIN(h.customer_verification_level) AS customer_verification_level,
  MIN(h.customer_address_stability) AS customer_address_stability,
  MIN(h.customer_state) AS customer_state,
  MIN(h.transaction_ts) AS first_seen_ts,
  MAX(h.transaction_ts) AS last_seen_ts,
  MIN(h.transaction_date) AS first_seen_date,
  MAX(h.transaction_date) AS last_seen_date,
  COUNT(DISTINCT h.transaction_date) AS active_days,
  COUNT(DISTINCT h.batch_id) AS batch_count,
  COUNT(*) AS transaction_count,
  SUM(h.amount_cents) AS total_amount_cents,
  AVG(h.amount_cents) AS avg_amount_cents,
  MAX(h.amount_cents) AS max_amount_cents,
  AVG(h.risk_score) AS avg_risk_score,
  AVG(CASE WHEN h.risk_scenario = 'impulse_purchase' THEN 1 ELSE 0 END) AS impulse_share,
  AVG(CASE WHEN h.risk_scenario = 'high_risk_behavior' THEN 1 ELSE 0 END) AS high_risk_share,
  COUNT(DISTINCT h.product_id) AS distinct_products,
  COUNT(DISTINCT h.device_id) AS distinct_devices,
  COUNT(DISTINCT h.payment_method_id) AS distinct_payment_methods,
  COUNT_IF(h.will_default) AS default_count,
  COALESCE(BOOL_OR(CAST(h.customer_attributes_changed AS BOOLEAN)), FALSE) AS attributes_changed,
  COUNT(DISTINCT CASE WHEN h.customer_attributes_changed THEN h.batch_id ELSE NULL END) AS changed_attribute_batches
FROM history AS h
GROUP BY
  h.customer_key
) AS _m
LIMIT 0;

-- merge bnpl_intermediate.int_bnpl_customer_profiles
CREATE OR REPLACE TEMPORARY TABLE _bnpl_new AS
SELECT
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.customer_id AS TEXT) AS customer_id,
  CAST(_m.identity_scope AS TEXT) AS identity_scope,
  CAST(_m.attribute_fingerprint AS TEXT) AS attribute_fingerprint,
  CAST(_m.customer_age_bracket AS TEXT) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS BIGINT) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS TEXT) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS TEXT) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS TEXT) AS customer_verification_level,
  CAST(_m.customer_address_stability AS TEXT) AS customer_address_stability,
  CAST(_m.customer_state AS TEXT) AS customer_state,
  CAST(_m.first_seen_ts AS TIMESTAMP) AS first_seen_ts,
  CAST(_m.last_seen_ts AS TIMESTAMP) AS last_seen_ts,
  CAST(_m.first_seen_date AS DATE) AS first_seen_date,
  CAST(_m.last_seen_date AS DATE) AS last_seen_date,
  CAST(_m.active_days AS BIGINT) AS active_days,
  CAST(_m.batch_count AS BIGINT) AS batch_count,
  CAST(_m.transaction_count AS BIGINT) AS transaction_count,
  CAST(_m.total_amount_cents AS BIGINT) AS total_amount_cents,
  CAST(_m.avg_amount_cents AS DOUBLE) AS avg_amount_cents,
  CAST(_m.max_amount_cents AS BIGINT) AS max_amount_cents,
  CAST(_m.avg_risk_score AS DOUBLE) AS avg_risk_score,
  CAST(_m.impulse_share AS DOUBLE) AS impulse_share,
  CAST(_m.high_risk_share AS DOUBLE) AS high_risk_share,
  CAST(_m.distinct_products AS BIGINT) AS distinct_products,
  CAST(_m.distinct_devices AS BIGINT) AS distinct_devices,
  CAST(_m.distinct_payment_methods AS BIGINT) AS distinct_payment_methods,
  CAST(_m.default_count AS BIGINT) AS default_count,
  CAST(_m.attributes_changed AS BOOLEAN) AS attributes_changed,
  CAST(_m.changed_attribute_batches AS BIGINT) AS changed_attribute_batches
FROM (
WITH touched AS (
  SELECT
    e.customer_key
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.transaction_date BETWEEN $start_date AND $end_date
  UNION
  SELECT
    previous.customer_key
  FROM "bnpl_intermediate"."int_bnpl_customer_profiles" AS previous
  WHERE
    previous.first_seen_date <= $end_date AND previous.last_seen_date >= $start_date
), history AS (
  SELECT
    e.*
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.customer_key IN (
      SELECT
        touched.customer_key
      FROM touched
    )
)
SELECT
  h.customer_key,
  MIN(h.customer_id) AS customer_id,
  MIN(h.identity_scope) AS identity_scope,
  MIN(h.attribute_fingerprint) AS attribute_fingerprint,
  MIN(h.customer_age_bracket) AS customer_age_bracket,
  MIN(h.customer_tenure_days) AS customer_tenure_days,
  MIN(h.customer_income_bracket) AS customer_income_bracket,
  MIN(h.customer_credit_score_range) AS customer_credit_score_range,
  MIN(h.customer_verification_level) AS customer_verification_level,
  MIN(h.customer_address_stability) AS customer_address_stability,
  MIN(h.customer_state) AS customer_state,
  MIN(h.transaction_ts) AS first_seen_ts,
  MAX(h.transaction_ts) AS last_seen_ts,
  MIN(h.transaction_date) AS first_seen_date,
  MAX(h.transaction_date) AS last_seen_date,
  COUNT(DISTINCT h.transaction_date) AS active_days,
  COUNT(DISTINCT h.batch_id) AS batch_count,
  COUNT(*) AS transaction_count,
  SUM(h.amount_cents) AS total_amount_cents,
  AVG(h.amount_cents) AS avg_amount_cents,
  MAX(h.amount_cents) AS max_amount_cents,
  AVG(h.risk_score) AS avg_risk_score,
  AVG(CASE WHEN h.risk_scenario = 'impulse_purchase' THEN 1 ELSE 0 END) AS impulse_share,
  AVG(CASE WHEN h.risk_scenario = 'high_risk_behavior' THEN 1 ELSE 0 END) AS high_risk_share,
  COUNT(DISTINCT h.product_id) AS distinct_products,
  COUNT(DISTINCT h.device_id) AS distinct_devices,
  COUNT(DISTINCT h.payment_method_id) AS distinct_payment_methods,
  COUNT_IF(h.will_default) AS default_count,
  COALESCE(BOOL_OR(CAST(h.customer_attributes_changed AS BOOLEAN)), FALSE) AS attributes_changed,
  COUNT(DISTINCT CASE WHEN h.customer_attributes_changed THEN h.batch_id ELSE NULL END) AS changed_attribute_batches
FROM history AS h
GROUP BY
  h.customer_key
) AS _m;

DELETE FROM "bnpl_intermediate"."int_bnpl_customer_profiles"
WHERE
  customer_key IN (
    SELECT
      customer_key
    FROM _bnpl_new
  )
  OR (
    first_seen_date <= $end_date AND last_seen_date >= $start_date
  );

INSERT INTO "bnpl_intermediate"."int_bnpl_customer_profiles" (
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
  total_amount_cents,
  avg_amount_cents,
  max_amount_cents,
  avg_risk_score,
  impulse_share,
  high_risk_share,
  distinct_products,
  distinct_devices,
  distinct_payment_methods,
  default_count,
  attributes_changed,
  changed_attribute_batches
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
  total_amount_cents,
  avg_amount_cents,
  max_amount_cents,
  avg_risk_score,
  impulse_share,
  high_risk_share,
  distinct_products,
  distinct_devices,
  distinct_payment_methods,
  default_count,
  attributes_changed,
  changed_attribute_batches
FROM _bnpl_new;

DROP TABLE IF EXISTS _bnpl_new;

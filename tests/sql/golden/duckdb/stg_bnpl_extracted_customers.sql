-- probe
SELECT
  *
FROM (
SELECT
  c.customer_key,
  c.transaction_date,
  c.batch_id,
  c.customer_id,
  c.identity_scope,
  c.attribute_fingerprint,
  c.customer_age_bracket,
  c.customer_tenure_days,
  c.customer_income_bracket,
  c.customer_credit_score_range,
  c.customer_verification_level,
  c.customer_address_stability,
  c.customer_state,
  c.first_seen_ts,
  c.last_seen_ts,
  c.transaction_count,
  c.attributes_changed,
  c.loaded_at
FROM "bnpl_raw"."customers" AS c
WHERE
  c.transaction_date BETWEEN $start_date AND $end_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date
LIMIT 0;

-- replace_range bnpl_intermediate.stg_bnpl_extracted_customers
DELETE FROM "bnpl_intermediate"."stg_bnpl_extracted_customers"
WHERE
  transaction_date BETWEEN $start_date AND $end_date;

INSERT INTO "bnpl_intermediate"."stg_bnpl_extracted_customers" (
  customer_key,
  transaction_date,
  batch_id,
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
  transaction_count,
  attributes_changed,
  loaded_at
)
SELECT
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.batch_id AS TEXT) AS batch_id,
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
  CAST(_m.transaction_count AS BIGINT) AS transaction_count,
  CAST(_m.attributes_changed AS BOOLEAN) AS attributes_changed,
  CAST(_m.loaded_at AS TIMESTAMPTZ) AS loaded_at
FROM (
SELECT
  c.customer_key,
  c.transaction_date,
  c.batch_id,
  c.customer_id,
  c.identity_scope,
  c.attribute_fingerprint,
  c.customer_age_bracket,
  c.customer_tenure_days,
  c.customer_income_bracket,
  c.customer_credit_score_range,
  c.customer_verification_level,
  c.customer_address_stability,
  c.customer_state,
  c.first_seen_ts,
  c.last_seen_ts,
  c.transaction_count,
  c.attributes_changed,
  c.loaded_at
FROM "bnpl_raw"."customers" AS c
WHERE
  c.transaction_date BETWEEN $start_date AND $end_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date;

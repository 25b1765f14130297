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
FROM `proj.dev_bnpl_raw.customers` AS c
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date
LIMIT 0;

-- view bnpl_intermediate.stg_bnpl_extracted_customers
CREATE OR REPLACE VIEW `proj.dev_bnpl_intermediate.stg_bnpl_extracted_customers` AS
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
FROM `proj.dev_bnpl_raw.customers` AS c;

{#
  int_bnpl_customer_profiles: one row per customer key with behaviour aggregates over every
  loaded day, and attribute-drift flags.

  De-duplication: the raw customer table has one row per key per batch; here a key is one row.
  With batch-scoped ids (the real simtom) a key lives in one batch, so a profile covers one day;
  with stable ids a key spans days and the profile covers all of them.

  Incremental (merge on customer_key, active_between first/last seen date): a run recomputes,
  from every loaded day, the keys with transactions in the run's days plus the keys whose
  previous profile (this) overlapped those days; the runner replaces exactly those rows and
  drops rows of keys that no longer exist (a reloaded day with different content). So the result
  does not depend on the order days were built in, and equals a full refresh.

  Attribute drift: the customer id carried more than one attribute fingerprint inside a batch
  (simtom reuses ids with new attributes, contract section 4); counted, never hidden.
  default_count is an outcome known only after the instalment term: analytics only, never a
  feature.
#}
{{ config(
    materialized='incremental',
    unique_key='customer_key',
    active_between=['first_seen_date', 'last_seen_date'],
    cluster_by=['customer_key'],
    description='De-duplicated customers: one row per customer key with its attributes, behaviour aggregates over every loaded day and attribute-drift flags.',
    grain='one row per customer_key',
) }}
{{ column('customer_key', 'STRING', 'hash(identity scope, customer_id, attribute fingerprint): the customer', nullable=False) }}
{{ column('customer_id', 'STRING', 'simtom customer id; unique only within its identity scope', nullable=False) }}
{{ column('identity_scope', 'STRING', "'batch' or 'source': how far customer_id is unique") }}
{{ column('attribute_fingerprint', 'STRING', 'Hash of the attribute values (constant per key)') }}
{{ columns_from('stg_bnpl_extracted_customers', only=['customer_age_bracket', 'customer_tenure_days', 'customer_income_bracket', 'customer_credit_score_range', 'customer_verification_level', 'customer_address_stability', 'customer_state']) }}
{{ column('first_seen_ts', 'DATETIME', 'Earliest transaction_ts of the key', nullable=False) }}
{{ column('last_seen_ts', 'DATETIME', 'Latest transaction_ts of the key', nullable=False) }}
{{ column('first_seen_date', 'DATE', 'Day of first_seen_ts', nullable=False) }}
{{ column('last_seen_date', 'DATE', 'Day of last_seen_ts', nullable=False) }}
{{ column('active_days', 'INT64', 'Distinct days with a transaction', nullable=False) }}
{{ column('batch_count', 'INT64', 'Distinct batches (requests) the key appeared in', nullable=False) }}
{{ column('transaction_count', 'INT64', 'Transactions of the key', nullable=False) }}
{{ column('total_amount_cents', 'INT64', 'Sum of amounts, integer cents (exact)', nullable=False) }}
{{ column('avg_amount_cents', 'FLOAT64', 'Mean amount in cents', nullable=False) }}
{{ column('max_amount_cents', 'INT64', 'Largest amount in cents', nullable=False) }}
{{ column('avg_risk_score', 'FLOAT64', "Mean of simtom's risk_score", nullable=False) }}
{{ column('impulse_share', 'FLOAT64', "Share of transactions with risk_scenario 'impulse_purchase'", nullable=False) }}
{{ column('high_risk_share', 'FLOAT64', "Share of transactions with risk_scenario 'high_risk_behavior'", nullable=False) }}
{{ column('distinct_products', 'INT64', 'Distinct product_id', nullable=False) }}
{{ column('distinct_devices', 'INT64', 'Distinct device_id', nullable=False) }}
{{ column('distinct_payment_methods', 'INT64', 'Distinct payment_method_id', nullable=False) }}
{{ column('default_count', 'INT64', 'Transactions with will_default (an outcome: analytics only, never a feature)', nullable=False) }}
{{ column('attributes_changed', 'BOOL', 'Drift flag: in some batch the customer id had more than one attribute fingerprint', nullable=False) }}
{{ column('changed_attribute_batches', 'INT64', 'Batches in which the customer id had more than one fingerprint', nullable=False) }}

WITH touched AS (
  SELECT e.customer_key
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN @start_date AND @end_date
  UNION DISTINCT
  SELECT previous.customer_key
  FROM {{ this }} AS previous
  WHERE previous.first_seen_date <= @end_date
    AND previous.last_seen_date >= @start_date
),

history AS (
  SELECT e.*
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.customer_key IN (SELECT touched.customer_key FROM touched)
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
  AVG(IF(h.risk_scenario = 'impulse_purchase', 1, 0)) AS impulse_share,
  AVG(IF(h.risk_scenario = 'high_risk_behavior', 1, 0)) AS high_risk_share,
  COUNT(DISTINCT h.product_id) AS distinct_products,
  COUNT(DISTINCT h.device_id) AS distinct_devices,
  COUNT(DISTINCT h.payment_method_id) AS distinct_payment_methods,
  COUNTIF(h.will_default) AS default_count,
  COALESCE(LOGICAL_OR(h.customer_attributes_changed), FALSE) AS attributes_changed,
  COUNT(DISTINCT IF(h.customer_attributes_changed, h.batch_id, NULL)) AS changed_attribute_batches
FROM history AS h
GROUP BY h.customer_key

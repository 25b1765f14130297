{#
  stg_bnpl_extracted_customers: the customers extracted from each day's records.

  Reads bnpl_raw.customers, where normalisation already de-duplicated customers within a batch:
  one row per customer_key per batch. customer_key hashes the identity scope, the customer id and
  the attribute fingerprint, so an id that reappears with new attributes is a new key, and
  attributes_changed flags the id. With stable ids (identity_scope = 'source') a key recurs across
  days; int_bnpl_customer_profiles folds them into one row per key.

  A table filtered on the run's days, like stg_bnpl_raw_transactions: bnpl_raw.customers requires
  a partition filter.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    description='Customers as extracted from each loaded day, one row per customer key per batch, with the within-batch attribute-change flag.',
    grain='one row per customer_key per batch (per loaded day)',
    unique_key=['customer_key', 'batch_id'],
) }}
{{ columns_from_source('raw', 'customers') }}

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
FROM {{ source('raw', 'customers') }} AS c
WHERE c.transaction_date BETWEEN @start_date AND @end_date

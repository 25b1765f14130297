{#
  stg_bnpl_raw_transactions: the loaded transactions, typed and renamed once for every model.

  Reads bnpl_raw.transactions (one partition per loaded day). Adds first_payment_cents so money
  can be summed exactly; drops simtom's bookkeeping strings (_timestamp is transaction_ts,
  _generator is a constant) and keeps _record_id as record_id.

  A table, not a view: bnpl_raw.transactions requires a partition filter (BigQuery
  require_partition_filter), and this model is where that filter is applied, with the run's days;
  everything downstream reads staging. The copy costs one day per daily run.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    description='Loaded transactions, one typed row per record: the raw table minus bookkeeping fields, plus exact money in cents. Everything downstream reads transactions through this view.',
    grain='one row per loaded transaction (transaction_key)',
    unique_key='transaction_key',
) }}
{{ columns_from_source('raw', 'transactions', exclude=['_timestamp', '_record_id', '_generator']) }}
{{ column('first_payment_cents', 'INT64', 'first_payment_amount in integer cents (rounded half away from zero)', nullable=False) }}
{{ column('record_id', 'INT64', "simtom _record_id: 0-based position of the record in its response", nullable=False) }}

SELECT
  t.transaction_key,
  t.transaction_date,
  t.transaction_ts,
  t.batch_id,
  t.customer_key,
  t.amount_cents,
  t.transaction_id,
  t.customer_id,
  t.product_id,
  t.device_id,
  t.payment_method_id,
  t.amount,
  t.currency,
  t.status,
  t.credit_utilization,
  t.risk_scenario,
  t.risk_score,
  t.risk_level,
  t.installment_count,
  t.first_payment_amount,
  t.payment_frequency,
  t.purchase_context,
  t.checkout_speed,
  t.cart_abandonment_count,
  t.price_comparison_time,
  t.time_on_site_seconds,
  t.economic_stress_factor,
  t.will_default,
  t.days_to_first_missed_payment,
  t.customer_age_bracket,
  t.customer_tenure_days,
  t.customer_income_bracket,
  t.customer_credit_score_range,
  t.customer_verification_level,
  t.customer_address_stability,
  t.customer_state,
  t.product_category,
  t.product_subcategory,
  t.product_brand,
  t.product_price,
  t.product_bnpl_eligible,
  t.product_risk_category,
  t.device_type,
  t.device_os,
  t.device_is_trusted,
  t.payment_provider,
  t.payment_type,
  t.payment_credit_limit,
  t.extra,
  t.loaded_at,
  CAST(ROUND(t.first_payment_amount * 100) AS INT64) AS first_payment_cents,
  t._record_id AS record_id
FROM {{ source('raw', 'transactions') }} AS t
WHERE t.transaction_date BETWEEN @start_date AND @end_date

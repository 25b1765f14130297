{#
  mart_bnpl_ml_features: per-transaction features, each known at the transaction's time.

  Point in time: a feature of transaction T uses T's own record (what the checkout saw: amount,
  product, device, payment method, customer attributes, behaviour timings, simtom's risk_score as
  the provider's score), the calendar (known in advance), and the customer's earlier transactions
  strictly before T's timestamp (windows end 1 second before it; transactions in the same second
  are not "before"). Customer history stays within the identity scope because customer_key is
  scoped. Rolling windows look back 7 and 28 days of event time; the model reads the 28 days
  before the run's first day, so an incremental build computes the same values as a full one,
  and lookback_days=28 makes a rebuild of a past day also rebuild the 28 days after it (their
  windows include it).

  Excluded on purpose: will_default and days_to_first_missed_payment (outcomes, the labels),
  risk_scenario and risk_level (simtom's generating class and a threshold of risk_score), and
  anything loaded after the transaction (loaded_at).

  First version: the ML-features work (issue 7) extends it with longer histories, global context
  and product/device risk combinations; keep this header and the column docs current.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    unique_key='transaction_key',
    lookback_days=28,
    description='ML features per transaction, each computed only from what was known strictly before the transaction timestamp: the checkout record, the calendar and the customer history in its identity scope. No labels.',
    grain='one row per transaction (transaction_key)',
) }}
{{ column('transaction_key', 'STRING', 'The transaction', nullable=False, references='mart_bnpl_transactions.transaction_key') }}
{{ column('customer_key', 'STRING', 'The customer (scoped identity)', nullable=False, references='mart_bnpl_customers.customer_key') }}
{{ columns_from('int_bnpl_transactions_enriched', only=['transaction_date', 'transaction_ts', 'identity_scope', 'amount_cents', 'installment_count', 'first_payment_ratio', 'amount_to_credit_limit_ratio', 'risk_score', 'purchase_context', 'checkout_speed', 'cart_abandonment_count', 'price_comparison_time', 'time_on_site_seconds', 'time_on_site_to_comparison_ratio', 'customer_age_bracket', 'customer_tenure_days', 'customer_income_bracket', 'customer_credit_score_range', 'customer_verification_level', 'customer_address_stability', 'customer_attributes_changed', 'product_category', 'product_subcategory', 'product_brand', 'product_price', 'product_bnpl_eligible', 'product_risk_category', 'device_type', 'device_os', 'device_is_trusted', 'payment_provider', 'payment_credit_limit', 'day_type', 'holiday_name', 'day_of_week', 'is_weekend', 'days_to_next_holiday', 'days_since_previous_holiday', 'hour_of_day']) }}
{{ column('prior_txn_count_7d', 'INT64', "The customer's transactions in the 7 days (604,800 s) before transaction_ts, excluding it", nullable=False) }}
{{ column('prior_txn_count_28d', 'INT64', "The customer's transactions in the 28 days before transaction_ts, excluding it", nullable=False) }}
{{ column('prior_amount_cents_7d', 'INT64', "The customer's spend in cents in the 7 days before transaction_ts", nullable=False) }}
{{ column('prior_amount_cents_28d', 'INT64', "The customer's spend in cents in the 28 days before transaction_ts", nullable=False) }}
{{ column('seconds_since_previous_txn', 'INT64', "Seconds since the customer's previous transaction within 28 days; NULL when there is none") }}

WITH history AS (
  SELECT
    e.*,
    DATETIME_DIFF(e.transaction_ts, DATETIME '1970-01-01 00:00:00', SECOND) AS ts_seconds
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL 28 DAY) AND @end_date
)

SELECT
  h.transaction_key,
  h.customer_key,
  h.transaction_date,
  h.transaction_ts,
  h.identity_scope,
  h.amount_cents,
  h.installment_count,
  h.first_payment_ratio,
  h.amount_to_credit_limit_ratio,
  h.risk_score,
  h.purchase_context,
  h.checkout_speed,
  h.cart_abandonment_count,
  h.price_comparison_time,
  h.time_on_site_seconds,
  h.time_on_site_to_comparison_ratio,
  h.customer_age_bracket,
  h.customer_tenure_days,
  h.customer_income_bracket,
  h.customer_credit_score_range,
  h.customer_verification_level,
  h.customer_address_stability,
  h.customer_attributes_changed,
  h.product_category,
  h.product_subcategory,
  h.product_brand,
  h.product_price,
  h.product_bnpl_eligible,
  h.product_risk_category,
  h.device_type,
  h.device_os,
  h.device_is_trusted,
  h.payment_provider,
  h.payment_credit_limit,
  h.day_type,
  h.holiday_name,
  h.day_of_week,
  h.is_weekend,
  h.days_to_next_holiday,
  h.days_since_previous_holiday,
  h.hour_of_day,
  COUNT(*) OVER (
    PARTITION BY h.customer_key ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_7d,
  COUNT(*) OVER (
    PARTITION BY h.customer_key ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_28d,
  COALESCE(SUM(h.amount_cents) OVER (
    PARTITION BY h.customer_key ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ), 0) AS prior_amount_cents_7d,
  COALESCE(SUM(h.amount_cents) OVER (
    PARTITION BY h.customer_key ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ), 0) AS prior_amount_cents_28d,
  h.ts_seconds - MAX(h.ts_seconds) OVER (
    PARTITION BY h.customer_key ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS seconds_since_previous_txn
FROM history AS h

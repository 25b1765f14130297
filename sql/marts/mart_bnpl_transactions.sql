{#
  mart_bnpl_transactions: the published transaction fact table.

  Keys: transaction_key is unique; customer_key references mart_bnpl_customers (every
  transaction's customer exists there). Money is exact: amount is NUMERIC built from integer
  cents. Outcomes (will_default, days_to_first_missed_payment) are kept for analytics and
  labelled as outcomes: they are known only after the instalment term.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    unique_key='transaction_key',
    description='Published BNPL transactions: one row per transaction with exact money, product, device, payment, risk, behaviour and calendar attributes, and the outcomes for analytics.',
    grain='one row per transaction (transaction_key)',
) }}
{{ column('transaction_key', 'STRING', 'hash(batch_id, transaction_id): the primary key', nullable=False) }}
{{ column('customer_key', 'STRING', 'The customer', nullable=False, references='mart_bnpl_customers.customer_key') }}
{{ columns_from('int_bnpl_transactions_enriched', only=['transaction_date', 'transaction_ts', 'batch_id', 'transaction_id', 'customer_id', 'product_id', 'device_id', 'payment_method_id', 'amount_cents', 'first_payment_cents']) }}
{{ column('amount', 'NUMERIC', 'Transaction amount in USD, exact (amount_cents / 100)', nullable=False) }}
{{ column('first_payment_amount', 'NUMERIC', 'First instalment in USD, exact (first_payment_cents / 100)', nullable=False) }}
{{ columns_from('int_bnpl_transactions_enriched', only=['currency', 'installment_count', 'payment_frequency', 'risk_scenario', 'risk_score', 'risk_level', 'credit_utilization', 'purchase_context', 'checkout_speed', 'cart_abandonment_count', 'price_comparison_time', 'time_on_site_seconds', 'product_category', 'product_subcategory', 'product_brand', 'product_bnpl_eligible', 'product_risk_category', 'device_type', 'device_os', 'device_is_trusted', 'payment_provider', 'payment_type', 'payment_credit_limit', 'day_type', 'holiday_name', 'day_of_week', 'is_weekend', 'hour_of_day', 'first_payment_ratio', 'time_on_site_to_comparison_ratio', 'amount_to_credit_limit_ratio']) }}
{{ column('will_default', 'BOOL', 'Outcome: the customer defaults on this purchase (known only after the instalment term)', nullable=False) }}
{{ column('days_to_first_missed_payment', 'INT64', 'Outcome: days from purchase to the first missed instalment; NULL when will_default is false') }}
{{ column('loaded_at', 'TIMESTAMP', 'When the raw row was written (UTC)', nullable=False) }}

SELECT
  e.transaction_key,
  e.customer_key,
  e.transaction_date,
  e.transaction_ts,
  e.batch_id,
  e.transaction_id,
  e.customer_id,
  e.product_id,
  e.device_id,
  e.payment_method_id,
  e.amount_cents,
  e.first_payment_cents,
  CAST(e.amount_cents AS NUMERIC) * NUMERIC '0.01' AS amount,
  CAST(e.first_payment_cents AS NUMERIC) * NUMERIC '0.01' AS first_payment_amount,
  e.currency,
  e.installment_count,
  e.payment_frequency,
  e.risk_scenario,
  e.risk_score,
  e.risk_level,
  e.credit_utilization,
  e.purchase_context,
  e.checkout_speed,
  e.cart_abandonment_count,
  e.price_comparison_time,
  e.time_on_site_seconds,
  e.product_category,
  e.product_subcategory,
  e.product_brand,
  e.product_bnpl_eligible,
  e.product_risk_category,
  e.device_type,
  e.device_os,
  e.device_is_trusted,
  e.payment_provider,
  e.payment_type,
  e.payment_credit_limit,
  e.day_type,
  e.holiday_name,
  e.day_of_week,
  e.is_weekend,
  e.hour_of_day,
  e.first_payment_ratio,
  e.time_on_site_to_comparison_ratio,
  e.amount_to_credit_limit_ratio,
  e.will_default,
  e.days_to_first_missed_payment,
  e.loaded_at
FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
WHERE e.transaction_date BETWEEN @start_date AND @end_date

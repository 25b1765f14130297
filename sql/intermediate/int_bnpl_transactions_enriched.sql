{#
  int_bnpl_transactions_enriched: every transaction with its customer's identity facts, calendar
  features and ratio features.

  Calendar features come from int_bnpl_calendar_days (bnpl.calendar), the hour from the naive
  event time. Ratios divide with SAFE_DIVIDE: a zero denominator gives NULL, never an error or
  infinity (price_comparison_time is 0 for some impulse purchases). The customer join is a LEFT
  JOIN so a transaction is never dropped; a missing customer row shows as a NULL identity_scope,
  which the quality gate's relationship check reports.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    unique_key='transaction_key',
    description='Transactions with calendar features (day type, holiday, weekday, hour), ratio features and the customer identity facts needed downstream; the base of every mart.',
    grain='one row per loaded transaction (transaction_key)',
) }}
{{ columns_from('stg_bnpl_raw_transactions', exclude=['extra', 'record_id']) }}
{{ column('identity_scope', 'STRING', "Scope of customer ids: 'batch' (ids restart per response) or 'source' (stable ids); from the customer row") }}
{{ column('attribute_fingerprint', 'STRING', "Hash of the customer's attribute values; from the customer row") }}
{{ column('customer_attributes_changed', 'BOOL', "The customer id had more than one attribute fingerprint in this transaction's batch") }}
{{ column('day_type', 'STRING', "bnpl day type of transaction_date: 'weekday', 'weekend' or 'holiday'") }}
{{ column('holiday_name', 'STRING', 'Holiday on transaction_date, NULL on other days') }}
{{ column('day_of_week', 'INT64', 'Day of week of transaction_date, 1 = Sunday ... 7 = Saturday') }}
{{ column('is_weekend', 'BOOL', 'transaction_date is a Saturday or Sunday') }}
{{ column('days_to_next_holiday', 'INT64', 'Days from transaction_date to the next holiday (0 on a holiday)') }}
{{ column('days_since_previous_holiday', 'INT64', 'Days since the previous holiday (0 on a holiday)') }}
{{ column('hour_of_day', 'INT64', 'Hour of transaction_ts, 0-23 (synthetic local time)', nullable=False) }}
{{ column('first_payment_ratio', 'FLOAT64', 'first_payment_cents / amount_cents (simtom: 0.25); NULL when the amount is 0') }}
{{ column('time_on_site_to_comparison_ratio', 'FLOAT64', 'time_on_site_seconds / price_comparison_time; NULL when no time was spent comparing') }}
{{ column('amount_to_credit_limit_ratio', 'FLOAT64', 'amount / payment_credit_limit; NULL when the limit is 0') }}

WITH transactions AS (
  SELECT t.*
  FROM {{ ref('stg_bnpl_raw_transactions') }} AS t
  WHERE t.transaction_date BETWEEN @start_date AND @end_date
),

customers AS (
  SELECT
    c.customer_key,
    c.transaction_date,
    c.batch_id,
    c.identity_scope,
    c.attribute_fingerprint,
    c.attributes_changed
  FROM {{ ref('stg_bnpl_extracted_customers') }} AS c
  WHERE c.transaction_date BETWEEN @start_date AND @end_date
),

calendar AS (
  SELECT *
  FROM {{ ref('int_bnpl_calendar_days') }}
  WHERE calendar_date BETWEEN @start_date AND @end_date
)

SELECT
  t.* EXCEPT (extra, record_id),
  c.identity_scope,
  c.attribute_fingerprint,
  c.attributes_changed AS customer_attributes_changed,
  cal.day_type,
  cal.holiday_name,
  cal.day_of_week,
  cal.is_weekend,
  cal.days_to_next_holiday,
  cal.days_since_previous_holiday,
  EXTRACT(HOUR FROM t.transaction_ts) AS hour_of_day,
  SAFE_DIVIDE(t.first_payment_cents, t.amount_cents) AS first_payment_ratio,
  SAFE_DIVIDE(t.time_on_site_seconds, t.price_comparison_time) AS time_on_site_to_comparison_ratio,
  SAFE_DIVIDE(t.amount_cents, t.payment_credit_limit * 100) AS amount_to_credit_limit_ratio
FROM transactions AS t
LEFT JOIN customers AS c
  ON c.customer_key = t.customer_key
  AND c.transaction_date = t.transaction_date
  AND c.batch_id = t.batch_id
LEFT JOIN calendar AS cal
  ON cal.calendar_date = t.transaction_date

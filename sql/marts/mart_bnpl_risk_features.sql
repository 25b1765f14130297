{#
  mart_bnpl_risk_features: behavioural risk indicators per customer, as of a date.

  As-of date: the run's @end_date, a bound parameter ("as of D" is the end of day D: what
  happened before D + 1 day 00:00:00, naive event time). `bnpl build` builds every loaded day, so the published table is
  the snapshot as of the last loaded day; the same query with @end_date = D gives the snapshot as
  of D. Only transactions up to D are read, and a payment outcome counts only once it has
  happened by the as-of instant:

  * a missed payment is observed at transaction_ts + days_to_first_missed_payment days;
  * a purchase is settled (its term has ended) at transaction_ts + 14 days x installment_count;
    until then, and without an observed miss, it is open.

  So this table uses outcomes as they become known. It is for scoring and monitoring customers at
  a date; it is not a source of training features for the same transactions (those are in
  mart_bnpl_ml_features, which never reads an outcome).

  behaviour_risk_tier is a transparent rule, not a model: 'high' with an observed missed payment,
  a mean risk_score of 0.6 or more, or at least half the purchases in the high_risk_behavior
  scenario; 'medium' with a mean risk_score of 0.3 or more or at least half the purchases
  impulsive or high-risk; else 'low' (0.3 and 0.6 are simtom's risk_level thresholds).

  A table, rebuilt whole: every row changes with the as-of date (recency, windows, outcomes).
#}
{{ config(
    materialized='table',
    cluster_by=['customer_key'],
    unique_key='customer_key',
    description='Customer behavioural risk indicators as of the run end date (@end_date): recency, rolling activity, risk-score and scenario mix, device and payment-method spread, and the payment outcomes observed by that date (missed payments, settled and open purchases), with a rule-based risk tier.',
    grain='one row per customer_key with a transaction on or before @end_date',
) }}
{{ column('customer_key', 'STRING', 'The customer (scoped identity)', nullable=False, references='mart_bnpl_customers.customer_key') }}
{{ column('as_of_date', 'DATE', 'The as-of date (@end_date): indicators describe the end of this day', nullable=False) }}
{{ column('first_txn_ts', 'DATETIME', 'First transaction of the customer', nullable=False) }}
{{ column('last_txn_ts', 'DATETIME', 'Latest transaction on or before the as-of date', nullable=False) }}
{{ column('days_since_first_txn', 'INT64', 'as_of_date minus the first transaction day, in days', nullable=False) }}
{{ column('days_since_last_txn', 'INT64', 'as_of_date minus the latest transaction day, in days (0: bought on the as-of date)', nullable=False) }}
{{ column('txn_count', 'INT64', 'Transactions up to the as-of date', nullable=False) }}
{{ column('total_amount_cents', 'INT64', 'Spend in integer cents up to the as-of date', nullable=False) }}
{{ column('avg_amount_cents', 'FLOAT64', 'Mean amount in cents', nullable=False) }}
{{ column('max_amount_cents', 'INT64', 'Largest amount in cents', nullable=False) }}
{{ column('txn_count_7d', 'INT64', 'Transactions in the 7 days ending on the as-of date (as_of_date - 6 .. as_of_date)', nullable=False) }}
{{ column('amount_cents_7d', 'INT64', 'Spend in cents in the same 7 days', nullable=False) }}
{{ column('txn_count_28d', 'INT64', 'Transactions in the 28 days ending on the as-of date', nullable=False) }}
{{ column('amount_cents_28d', 'INT64', 'Spend in cents in the same 28 days', nullable=False) }}
{{ column('avg_risk_score', 'FLOAT64', "Mean of simtom's risk_score (to 1e-6)", nullable=False) }}
{{ column('max_risk_score', 'FLOAT64', "Largest risk_score", nullable=False) }}
{{ column('high_risk_level_share', 'FLOAT64', "Share of purchases with risk_level 'high' or 'very_high'", nullable=False) }}
{{ column('impulse_share', 'FLOAT64', "Share of purchases in the impulse_purchase scenario", nullable=False) }}
{{ column('credit_stretched_share', 'FLOAT64', "Share of purchases in the credit_stretched scenario", nullable=False) }}
{{ column('high_risk_behavior_share', 'FLOAT64', "Share of purchases in the high_risk_behavior scenario", nullable=False) }}
{{ column('untrusted_device_share', 'FLOAT64', 'Share of purchases on a device that is not trusted', nullable=False) }}
{{ column('distinct_devices', 'INT64', 'Distinct device_id used', nullable=False) }}
{{ column('distinct_payment_methods', 'INT64', 'Distinct payment_method_id used', nullable=False) }}
{{ column('max_amount_to_credit_limit_ratio', 'FLOAT64', 'Largest amount / payment_credit_limit of a purchase') }}
{{ column('settled_count', 'INT64', 'Purchases whose term had ended by the as-of instant (transaction_ts + 14 days x installment_count)', nullable=False) }}
{{ column('open_count', 'INT64', 'Purchases still in their term at the as-of instant, without an observed missed payment', nullable=False) }}
{{ column('open_amount_cents', 'INT64', 'Amount in cents of the open purchases', nullable=False) }}
{{ column('missed_payment_count', 'INT64', 'Purchases whose first missed payment had happened by the as-of instant', nullable=False) }}
{{ column('settled_default_rate', 'FLOAT64', 'Share of settled purchases with a missed payment; NULL when none is settled') }}
{{ column('days_since_last_missed_payment', 'INT64', 'Days from the latest observed missed payment to the as-of date; NULL without one') }}
{{ column('behaviour_risk_tier', 'STRING', "'high', 'medium' or 'low' by the rule in the model header", nullable=False) }}

WITH as_of AS (
  SELECT CAST(DATE_ADD(@end_date, INTERVAL 1 DAY) AS DATETIME) AS as_of_end
),

purchases AS (
  SELECT
    t.customer_key,
    t.transaction_date,
    t.transaction_ts,
    t.amount_cents,
    t.device_id,
    t.payment_method_id,
    t.risk_level,
    t.risk_scenario,
    t.device_is_trusted,
    t.amount_to_credit_limit_ratio,
    t.risk_score,
    CAST(ROUND(t.risk_score * 1000000) AS INT64) AS risk_score_micros,
    DATETIME_ADD(t.transaction_ts, INTERVAL 14 * t.installment_count DAY) < a.as_of_end AS is_settled,
    IF(
      t.will_default
      AND DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY) < a.as_of_end,
      DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY),
      NULL
    ) AS missed_payment_ts
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS t
  CROSS JOIN as_of AS a
  WHERE t.transaction_date <= @end_date
),

customers AS (
  SELECT
    p.customer_key,
    MIN(p.transaction_ts) AS first_txn_ts,
    MAX(p.transaction_ts) AS last_txn_ts,
    MIN(p.transaction_date) AS first_txn_date,
    MAX(p.transaction_date) AS last_txn_date,
    COUNT(*) AS txn_count,
    SUM(p.amount_cents) AS total_amount_cents,
    MAX(p.amount_cents) AS max_amount_cents,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL 7 DAY)) AS txn_count_7d,
    COALESCE(SUM(IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL 7 DAY), p.amount_cents, 0)), 0) AS amount_cents_7d,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL 28 DAY)) AS txn_count_28d,
    COALESCE(SUM(IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL 28 DAY), p.amount_cents, 0)), 0) AS amount_cents_28d,
    SUM(p.risk_score_micros) AS risk_score_micros,
    MAX(p.risk_score) AS max_risk_score,
    COUNTIF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNTIF(p.risk_scenario = 'impulse_purchase') AS impulse_count,
    COUNTIF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNTIF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNTIF(NOT p.device_is_trusted) AS untrusted_device_count,
    COUNT(DISTINCT p.device_id) AS distinct_devices,
    COUNT(DISTINCT p.payment_method_id) AS distinct_payment_methods,
    MAX(p.amount_to_credit_limit_ratio) AS max_amount_to_credit_limit_ratio,
    COUNTIF(p.is_settled) AS settled_count,
    COUNTIF(NOT p.is_settled AND p.missed_payment_ts IS NULL) AS open_count,
    COALESCE(SUM(IF(NOT p.is_settled AND p.missed_payment_ts IS NULL, p.amount_cents, 0)), 0) AS open_amount_cents,
    COUNTIF(p.missed_payment_ts IS NOT NULL) AS missed_payment_count,
    COUNTIF(p.is_settled AND p.missed_payment_ts IS NOT NULL) AS settled_missed_count,
    MAX(p.missed_payment_ts) AS last_missed_payment_ts
  FROM purchases AS p
  GROUP BY p.customer_key
),

indicators AS (
  SELECT
    c.*,
    ROUND(c.risk_score_micros / c.txn_count) / 1000000 AS avg_risk_score,
    c.impulse_count / c.txn_count AS impulse_share,
    c.high_risk_behavior_count / c.txn_count AS high_risk_behavior_share
  FROM customers AS c
)

SELECT
  i.customer_key,
  @end_date AS as_of_date,
  i.first_txn_ts,
  i.last_txn_ts,
  DATE_DIFF(@end_date, i.first_txn_date, DAY) AS days_since_first_txn,
  DATE_DIFF(@end_date, i.last_txn_date, DAY) AS days_since_last_txn,
  i.txn_count,
  i.total_amount_cents,
  i.total_amount_cents / i.txn_count AS avg_amount_cents,
  i.max_amount_cents,
  i.txn_count_7d,
  i.amount_cents_7d,
  i.txn_count_28d,
  i.amount_cents_28d,
  i.avg_risk_score,
  i.max_risk_score,
  i.high_risk_level_count / i.txn_count AS high_risk_level_share,
  i.impulse_share,
  i.credit_stretched_count / i.txn_count AS credit_stretched_share,
  i.high_risk_behavior_share,
  i.untrusted_device_count / i.txn_count AS untrusted_device_share,
  i.distinct_devices,
  i.distinct_payment_methods,
  i.max_amount_to_credit_limit_ratio,
  i.settled_count,
  i.open_count,
  i.open_amount_cents,
  i.missed_payment_count,
  SAFE_DIVIDE(i.settled_missed_count, i.settled_count) AS settled_default_rate,
  DATE_DIFF(@end_date, DATE(i.last_missed_payment_ts), DAY) AS days_since_last_missed_payment,
  CASE
    WHEN i.missed_payment_count > 0 OR i.avg_risk_score >= 0.6 OR i.high_risk_behavior_share >= 0.5 THEN 'high'
    WHEN i.avg_risk_score >= 0.3 OR i.impulse_share + i.high_risk_behavior_share >= 0.5 THEN 'medium'
    ELSE 'low'
  END AS behaviour_risk_tier
FROM indicators AS i

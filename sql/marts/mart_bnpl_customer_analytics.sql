{#
  mart_bnpl_customer_analytics: one row per customer for dashboards: segments, lifetime value and
  risk mix over every loaded day.

  Lifetime value is the customer's total spend (exact integer cents and NUMERIC dollars): simtom
  carries no merchant fees or interest, so spend is the value the data can support. Segments use
  fixed thresholds, so a customer's segment depends only on its own purchases:

  * value_segment by lifetime value: 'low' under $250, 'medium' under $1,000, 'high' under
    $5,000, 'top' from $5,000;
  * frequency_segment by purchases: 'one_time' 1, 'occasional' 2-4, 'regular' 5-11,
    'frequent' 12 or more;
  * risk_segment by mean risk_score: 'low' under 0.3, 'medium' under 0.6, 'high' from 0.6
    (simtom's risk_level thresholds).

  Risk mix: the shares of purchases per risk_level and per risk_scenario. default_count and
  default_rate are outcomes over every purchase, matured or not: analytics only, never features.
  With batch-scoped ids (the real simtom) a customer key lives one day, so these are per-day
  customers; with stable ids they span every loaded day.

  Incremental like mart_bnpl_customers (merge on customer_key, active_between first/last seen
  date): the keys with purchases in the run's days, plus the keys whose previous row (this)
  overlapped them, are recomputed from all their purchases; a key that no longer has any
  disappears. Averages are exact integer sums divided once, so incremental equals full refresh.
#}
{{ config(
    materialized='incremental',
    unique_key='customer_key',
    active_between=['first_seen_date', 'last_seen_date'],
    cluster_by=['customer_key'],
    description='Customer analytics for dashboards: one row per customer key with lifetime value, purchase frequency, favourite category, the risk mix (risk levels and scenarios) and value, frequency and risk segments.',
    grain='one row per customer_key',
) }}
{{ column('customer_key', 'STRING', 'The customer (scoped identity)', nullable=False, references='mart_bnpl_customers.customer_key') }}
{{ columns_from('int_bnpl_transactions_enriched', only=['customer_id', 'identity_scope', 'customer_age_bracket', 'customer_income_bracket', 'customer_credit_score_range', 'customer_state']) }}
{{ column('first_seen_date', 'DATE', 'Day of the first purchase', nullable=False) }}
{{ column('last_seen_date', 'DATE', 'Day of the latest purchase', nullable=False) }}
{{ column('lifetime_days', 'INT64', 'Days from the first to the latest purchase, both included', nullable=False) }}
{{ column('active_days', 'INT64', 'Distinct days with a purchase', nullable=False) }}
{{ column('purchase_count', 'INT64', 'Purchases', nullable=False) }}
{{ column('lifetime_value_cents', 'INT64', 'Total spend in integer cents (exact)', nullable=False) }}
{{ column('lifetime_value', 'NUMERIC', 'Total spend in USD (exact)', nullable=False) }}
{{ column('avg_order_value', 'NUMERIC', 'Mean purchase amount in USD, rounded to the cent', nullable=False) }}
{{ column('favourite_category', 'STRING', 'Most frequent product_category (ties: alphabetically first)', nullable=False) }}
{{ column('distinct_categories', 'INT64', 'Distinct product categories bought', nullable=False) }}
{{ column('avg_risk_score', 'FLOAT64', 'Mean risk_score (to 1e-6)', nullable=False) }}
{{ column('low_risk_level_share', 'FLOAT64', "Share of purchases with risk_level 'low'", nullable=False) }}
{{ column('medium_risk_level_share', 'FLOAT64', "Share of purchases with risk_level 'medium'", nullable=False) }}
{{ column('high_risk_level_share', 'FLOAT64', "Share of purchases with risk_level 'high' or 'very_high'", nullable=False) }}
{{ column('low_risk_purchase_share', 'FLOAT64', "Share of purchases in the low_risk_purchase scenario", nullable=False) }}
{{ column('impulse_purchase_share', 'FLOAT64', "Share of purchases in the impulse_purchase scenario", nullable=False) }}
{{ column('credit_stretched_share', 'FLOAT64', "Share of purchases in the credit_stretched scenario", nullable=False) }}
{{ column('high_risk_behavior_share', 'FLOAT64', "Share of purchases in the high_risk_behavior scenario", nullable=False) }}
{{ column('default_count', 'INT64', 'Purchases that default (outcome, matured or not: analytics only)', nullable=False) }}
{{ column('default_rate', 'FLOAT64', 'default_count / purchase_count (outcome: analytics only)', nullable=False) }}
{{ column('value_segment', 'STRING', "'low' < $250 <= 'medium' < $1,000 <= 'high' < $5,000 <= 'top', by lifetime value", nullable=False) }}
{{ column('frequency_segment', 'STRING', "'one_time' (1 purchase), 'occasional' (2-4), 'regular' (5-11), 'frequent' (12+)", nullable=False) }}
{{ column('risk_segment', 'STRING', "'low' (mean risk_score < 0.3), 'medium' (< 0.6), 'high'", nullable=False) }}

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

purchases AS (
  SELECT
    e.customer_key,
    e.customer_id,
    e.identity_scope,
    e.customer_age_bracket,
    e.customer_income_bracket,
    e.customer_credit_score_range,
    e.customer_state,
    e.transaction_date,
    e.amount_cents,
    e.product_category,
    e.risk_level,
    e.risk_scenario,
    e.will_default,
    CAST(ROUND(e.risk_score * 1000000) AS INT64) AS risk_score_micros
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.customer_key IN (SELECT touched.customer_key FROM touched)
),

categories AS (
  SELECT
    c.customer_key,
    c.product_category,
    ROW_NUMBER() OVER (
      PARTITION BY c.customer_key ORDER BY c.purchases DESC, c.product_category
    ) AS category_rank
  FROM (
    SELECT p.customer_key, p.product_category, COUNT(*) AS purchases
    FROM purchases AS p
    GROUP BY p.customer_key, p.product_category
  ) AS c
),

customers AS (
  SELECT
    p.customer_key,
    MIN(p.customer_id) AS customer_id,
    MIN(p.identity_scope) AS identity_scope,
    MIN(p.customer_age_bracket) AS customer_age_bracket,
    MIN(p.customer_income_bracket) AS customer_income_bracket,
    MIN(p.customer_credit_score_range) AS customer_credit_score_range,
    MIN(p.customer_state) AS customer_state,
    MIN(p.transaction_date) AS first_seen_date,
    MAX(p.transaction_date) AS last_seen_date,
    COUNT(DISTINCT p.transaction_date) AS active_days,
    COUNT(*) AS purchase_count,
    SUM(p.amount_cents) AS lifetime_value_cents,
    COUNT(DISTINCT p.product_category) AS distinct_categories,
    SUM(p.risk_score_micros) AS risk_score_micros,
    COUNTIF(p.risk_level = 'low') AS low_risk_level_count,
    COUNTIF(p.risk_level = 'medium') AS medium_risk_level_count,
    COUNTIF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNTIF(p.risk_scenario = 'low_risk_purchase') AS low_risk_purchase_count,
    COUNTIF(p.risk_scenario = 'impulse_purchase') AS impulse_purchase_count,
    COUNTIF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNTIF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNTIF(p.will_default) AS default_count
  FROM purchases AS p
  GROUP BY p.customer_key
),

measured AS (
  SELECT
    c.*,
    ROUND(c.risk_score_micros / c.purchase_count) / 1000000 AS avg_risk_score
  FROM customers AS c
)

SELECT
  m.customer_key,
  m.customer_id,
  m.identity_scope,
  m.customer_age_bracket,
  m.customer_income_bracket,
  m.customer_credit_score_range,
  m.customer_state,
  m.first_seen_date,
  m.last_seen_date,
  DATE_DIFF(m.last_seen_date, m.first_seen_date, DAY) + 1 AS lifetime_days,
  m.active_days,
  m.purchase_count,
  m.lifetime_value_cents,
  CAST(m.lifetime_value_cents AS NUMERIC) * NUMERIC '0.01' AS lifetime_value,
  CAST(ROUND(m.lifetime_value_cents / m.purchase_count) AS NUMERIC) * NUMERIC '0.01' AS avg_order_value,
  fav.product_category AS favourite_category,
  m.distinct_categories,
  m.avg_risk_score,
  m.low_risk_level_count / m.purchase_count AS low_risk_level_share,
  m.medium_risk_level_count / m.purchase_count AS medium_risk_level_share,
  m.high_risk_level_count / m.purchase_count AS high_risk_level_share,
  m.low_risk_purchase_count / m.purchase_count AS low_risk_purchase_share,
  m.impulse_purchase_count / m.purchase_count AS impulse_purchase_share,
  m.credit_stretched_count / m.purchase_count AS credit_stretched_share,
  m.high_risk_behavior_count / m.purchase_count AS high_risk_behavior_share,
  m.default_count,
  m.default_count / m.purchase_count AS default_rate,
  CASE
    WHEN m.lifetime_value_cents < 25000 THEN 'low'
    WHEN m.lifetime_value_cents < 100000 THEN 'medium'
    WHEN m.lifetime_value_cents < 500000 THEN 'high'
    ELSE 'top'
  END AS value_segment,
  CASE
    WHEN m.purchase_count = 1 THEN 'one_time'
    WHEN m.purchase_count <= 4 THEN 'occasional'
    WHEN m.purchase_count <= 11 THEN 'regular'
    ELSE 'frequent'
  END AS frequency_segment,
  CASE
    WHEN m.avg_risk_score < 0.3 THEN 'low'
    WHEN m.avg_risk_score < 0.6 THEN 'medium'
    ELSE 'high'
  END AS risk_segment
FROM measured AS m
INNER JOIN categories AS fav
  ON fav.customer_key = m.customer_key
  AND fav.category_rank = 1

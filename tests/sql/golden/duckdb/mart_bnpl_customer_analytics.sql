-- probe
SELECT
  *
FROM (
WITH touched AS (
  SELECT
    e.customer_key
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.transaction_date BETWEEN $start_date AND $end_date
  UNION
  SELECT
    previous.customer_key
  FROM "bnpl_marts"."mart_bnpl_customer_analytics" AS previous
  WHERE
    previous.first_seen_date <= $end_date AND previous.last_seen_date >= $start_date
), purchases AS (
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
    CAST(ROUND(e.risk_score * 1000000) AS BIGINT) AS risk_score_micros
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.customer_key IN (
      SELECT
        touched.customer_key
      FROM touched
    )
), categories AS (
  SELECT
    c.customer_key,
    c.product_category,
    ROW_NUMBER() OVER (
      PARTITION BY c.customer_key
      ORDER BY c.purchases DESC, c.product_category NULLS FIRST
    ) AS category_rank
  FROM (
    SELECT
      p.customer_key,
      p.product_category,
      COUNT(*) AS purchases
    FROM purchases AS p
    GROUP BY
      p.customer_key,
      p.product_category
  ) AS c
), customers AS (
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
    COUNT_IF(p.risk_level = 'low') AS low_risk_level_count,
    COUNT_IF(p.risk_level = 'medium') AS medium_risk_level_count,
    COUNT_IF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNT_IF(p.risk_scenario = 'low_risk_purchase') AS low_risk_purchase_count,
    COUNT_IF(p.risk_scenario = 'impulse_purchase') AS impulse_purchase_count,
    COUNT_IF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNT_IF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNT_IF(p.will_default) AS default_count
  FROM purchases AS p
  GROUP BY
    p.customer_key
), measured AS (
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
  DATE_DIFF('DAY', m.first_seen_date, m.last_seen_date) + 1 AS lifetime_days,
  m.active_days,
  m.purchase_count,
  m.lifetime_value_cents,
  CAST(m.lifetime_value_cents AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS lifetime_value,
  CAST(ROUND(m.lifetime_value_cents / m.purchase_count) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS avg_order_value,
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
    WHEN m.lifetime_value_cents < 25000
    THEN 'low'
    WHEN m.lifetime_value_cents < 100000
    THEN 'medium'
    WHEN m.lifetime_value_cents < 500000
    THEN 'high'
    ELSE 'top'
  END AS value_segment,
  CASE
    WHEN m.purchase_count = 1
    THEN 'one_time'
    WHEN m.purchase_count <= 4
    THEN 'occasional'
    WHEN m.purchase_count <= 11
    THEN 'regular'
    ELSE 'frequent'
  END AS frequency_segment,
  CASE
    WHEN m.avg_risk_score < 0.3
    THEN 'low'
    WHEN m.avg_risk_score < 0.6
    THEN 'medium'
    ELSE 'high'
  END AS risk_segment
FROM measured AS m
INNER JOIN categories AS fav
  ON fav.customer_key = m.customer_key AND fav.category_rank = 1
) AS _m
LIMIT 0;

-- merge bnpl_marts.mart_bnpl_customer_analytics
CREATE OR REPLACE TEMPORARY TABLE _bnpl_new AS
SELECT
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.customer_id AS TEXT) AS customer_id,
  CAST(_m.identity_scope AS TEXT) AS identity_scope,
  CAST(_m.customer_age_bracket AS TEXT) AS customer_age_bracket,
  CAST(_m.customer_income_bracket AS TEXT) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS TEXT) AS customer_credit_score_range,
  CAST(_m.customer_state AS TEXT) AS customer_state,
  CAST(_m.first_seen_date AS DATE) AS first_seen_date,
  CAST(_m.last_seen_date AS DATE) AS last_seen_date,
  CAST(_m.lifetime_days AS BIGINT) AS lifetime_days,
  CAST(_m.active_days AS BIGINT) AS active_days,
  CAST(_m.purchase_count AS BIGINT) AS purchase_count,
  CAST(_m.lifetime_value_cents AS BIGINT) AS lifetime_value_cents,
  CAST(_m.lifetime_value AS DECIMAL(38, 9)) AS lifetime_value,
  CAST(_m.avg_order_value AS DECIMAL(38, 9)) AS avg_order_value,
  CAST(_m.favourite_category AS TEXT) AS favourite_category,
  CAST(_m.distinct_categories AS BIGINT) AS distinct_categories,
  CAST(_m.avg_risk_score AS DOUBLE) AS avg_risk_score,
  CAST(_m.low_risk_level_share AS DOUBLE) AS low_risk_level_share,
  CAST(_m.medium_risk_level_share AS DOUBLE) AS medium_risk_level_share,
  CAST(_m.high_risk_level_share AS DOUBLE) AS high_risk_level_share,
  CAST(_m.low_risk_purchase_share AS DOUBLE) AS low_risk_purchase_share,
  CAST(_m.impulse_purchase_share AS DOUBLE) AS impulse_purchase_share,
  CAST(_m.credit_stretched_share AS DOUBLE) AS credit_stretched_share,
  CAST(_m.high_risk_behavior_share AS DOUBLE) AS high_risk_behavior_share,
  CAST(_m.default_count AS BIGINT) AS default_count,
  CAST(_m.default_rate AS DOUBLE) AS default_rate,
  CAST(_m.value_segment AS TEXT) AS value_segment,
  CAST(_m.frequency_segment AS TEXT) AS frequency_segment,
  CAST(_m.risk_segment AS TEXT) AS risk_segment
FROM (
WITH touched AS (
  SELECT
    e.customer_key
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.transaction_date BETWEEN $start_date AND $end_date
  UNION
  SELECT
    previous.customer_key
  FROM "bnpl_marts"."mart_bnpl_customer_analytics" AS previous
  WHERE
    previous.first_seen_date <= $end_date AND previous.last_seen_date >= $start_date
), purchases AS (
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
    CAST(ROUND(e.risk_score * 1000000) AS BIGINT) AS risk_score_micros
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS e
  WHERE
    e.customer_key IN (
      SELECT
        touched.customer_key
      FROM touched
    )
), categories AS (
  SELECT
    c.customer_key,
    c.product_category,
    ROW_NUMBER() OVER (
      PARTITION BY c.customer_key
      ORDER BY c.purchases DESC, c.product_category NULLS FIRST
    ) AS category_rank
  FROM (
    SELECT
      p.customer_key,
      p.product_category,
      COUNT(*) AS purchases
    FROM purchases AS p
    GROUP BY
      p.customer_key,
      p.product_category
  ) AS c
), customers AS (
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
    COUNT_IF(p.risk_level = 'low') AS low_risk_level_count,
    COUNT_IF(p.risk_level = 'medium') AS medium_risk_level_count,
    COUNT_IF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNT_IF(p.risk_scenario = 'low_risk_purchase') AS low_risk_purchase_count,
    COUNT_IF(p.risk_scenario = 'impulse_purchase') AS impulse_purchase_count,
    COUNT_IF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNT_IF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNT_IF(p.will_default) AS default_count
  FROM purchases AS p
  GROUP BY
    p.customer_key
), measured AS (
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
  DATE_DIFF('DAY', m.first_seen_date, m.last_seen_date) + 1 AS lifetime_days,
  m.active_days,
  m.purchase_count,
  m.lifetime_value_cents,
  CAST(m.lifetime_value_cents AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS lifetime_value,
  CAST(ROUND(m.lifetime_value_cents / m.purchase_count) AS DECIMAL(38, 9)) * CAST('0.01' AS DECIMAL(38, 9)) AS avg_order_value,
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
    WHEN m.lifetime_value_cents < 25000
    THEN 'low'
    WHEN m.lifetime_value_cents < 100000
    THEN 'medium'
    WHEN m.lifetime_value_cents < 500000
    THEN 'high'
    ELSE 'top'
  END AS value_segment,
  CASE
    WHEN m.purchase_count = 1
    THEN 'one_time'
    WHEN m.purchase_count <= 4
    THEN 'occasional'
    WHEN m.purchase_count <= 11
    THEN 'regular'
    ELSE 'frequent'
  END AS frequency_segment,
  CASE
    WHEN m.avg_risk_score < 0.3
    THEN 'low'
    WHEN m.avg_risk_score < 0.6
    THEN 'medium'
    ELSE 'high'
  END AS risk_segment
FROM measured AS m
INNER JOIN categories AS fav
  ON fav.customer_key = m.customer_key AND fav.category_rank = 1
) AS _m;

DELETE FROM "bnpl_marts"."mart_bnpl_customer_analytics"
WHERE
  customer_key IN (
    SELECT
      customer_key
    FROM _bnpl_new
  )
  OR (
    first_seen_date <= $end_date AND last_seen_date >= $start_date
  );

INSERT INTO "bnpl_marts"."mart_bnpl_customer_analytics" (
  customer_key,
  customer_id,
  identity_scope,
  customer_age_bracket,
  customer_income_bracket,
  customer_credit_score_range,
  customer_state,
  first_seen_date,
  last_seen_date,
  lifetime_days,
  active_days,
  purchase_count,
  lifetime_value_cents,
  lifetime_value,
  avg_order_value,
  favourite_category,
  distinct_categories,
  avg_risk_score,
  low_risk_level_share,
  medium_risk_level_share,
  high_risk_level_share,
  low_risk_purchase_share,
  impulse_purchase_share,
  credit_stretched_share,
  high_risk_behavior_share,
  default_count,
  default_rate,
  value_segment,
  frequency_segment,
  risk_segment
)
SELECT
  customer_key,
  customer_id,
  identity_scope,
  customer_age_bracket,
  customer_income_bracket,
  customer_credit_score_range,
  customer_state,
  first_seen_date,
  last_seen_date,
  lifetime_days,
  active_days,
  purchase_count,
  lifetime_value_cents,
  lifetime_value,
  avg_order_value,
  favourite_category,
  distinct_categories,
  avg_risk_score,
  low_risk_level_share,
  medium_risk_level_share,
  high_risk_level_share,
  low_risk_purchase_share,
  impulse_purchase_share,
  credit_stretched_share,
  high_risk_behavior_share,
  default_count,
  default_rate,
  value_segment,
  frequency_segment,
  risk_segment
FROM _bnpl_new;

DROP TABLE IF EXISTS _bnpl_new;

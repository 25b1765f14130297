-- probe
SELECT
  *
FROM (
WITH as_of AS (
  SELECT
    CAST(DATE_ADD(@end_date, INTERVAL '1' DAY) AS DATETIME) AS as_of_end
), purchases AS (
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
    DATETIME_ADD(t.transaction_ts, INTERVAL (14 * t.installment_count) DAY) < a.as_of_end AS is_settled,
    IF(
      t.will_default
      AND DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY) < a.as_of_end,
      DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY),
      NULL
    ) AS missed_payment_ts
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS t
  CROSS JOIN as_of AS a
  WHERE
    t.transaction_date <= @end_date
), customers AS (
  SELECT
    p.customer_key,
    MIN(p.transaction_ts) AS first_txn_ts,
    MAX(p.transaction_ts) AS last_txn_ts,
    MIN(p.transaction_date) AS first_txn_date,
    MAX(p.transaction_date) AS last_txn_date,
    COUNT(*) AS txn_count,
    SUM(p.amount_cents) AS total_amount_cents,
    MAX(p.amount_cents) AS max_amount_cents,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '7' DAY)) AS txn_count_7d,
    COALESCE(
      SUM(
        IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '7' DAY), p.amount_cents, 0)
      ),
      0
    ) AS amount_cents_7d,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '28' DAY)) AS txn_count_28d,
    COALESCE(
      SUM(
        IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '28' DAY), p.amount_cents, 0)
      ),
      0
    ) AS amount_cents_28d,
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
    COUNTIF(NOT p.missed_payment_ts IS NULL) AS missed_payment_count,
    COUNTIF(p.is_settled AND NOT p.missed_payment_ts IS NULL) AS settled_missed_count,
    MAX(p.missed_payment_ts) AS last_missed_payment_ts
  FROM purchases AS p
  GROUP BY
    p.customer_key
), indicators AS (
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
    WHEN i.missed_payment_count > 0
    OR i.avg_risk_score >= 0.6
    OR i.high_risk_behavior_share >= 0.5
    THEN 'high'
    WHEN i.avg_risk_score >= 0.3 OR i.impulse_share + i.high_risk_behavior_share >= 0.5
    THEN 'medium'
    ELSE 'low'
  END AS behaviour_risk_tier
FROM indicators AS i
) AS _m
LIMIT 0;

-- create bnpl_marts.mart_bnpl_risk_features
CREATE OR REPLACE TABLE `proj.dev_bnpl_marts.mart_bnpl_risk_features`
CLUSTER BY customer_key AS
SELECT
  CAST(_m.customer_key AS STRING) AS customer_key,
  CAST(_m.as_of_date AS DATE) AS as_of_date,
  CAST(_m.first_txn_ts AS DATETIME) AS first_txn_ts,
  CAST(_m.last_txn_ts AS DATETIME) AS last_txn_ts,
  CAST(_m.days_since_first_txn AS INT64) AS days_since_first_txn,
  CAST(_m.days_since_last_txn AS INT64) AS days_since_last_txn,
  CAST(_m.txn_count AS INT64) AS txn_count,
  CAST(_m.total_amount_cents AS INT64) AS total_amount_cents,
  CAST(_m.avg_amount_cents AS FLOAT64) AS avg_amount_cents,
  CAST(_m.max_amount_cents AS INT64) AS max_amount_cents,
  CAST(_m.txn_count_7d AS INT64) AS txn_count_7d,
  CAST(_m.amount_cents_7d AS INT64) AS amount_cents_7d,
  CAST(_m.txn_count_28d AS INT64) AS txn_count_28d,
  CAST(_m.amount_cents_28d AS INT64) AS amount_cents_28d,
  CAST(_m.avg_risk_score AS FLOAT64) AS avg_risk_score,
  CAST(_m.max_risk_score AS FLOAT64) AS max_risk_score,
  CAST(_m.high_risk_level_share AS FLOAT64) AS high_risk_level_share,
  CAST(_m.impulse_share AS FLOAT64) AS impulse_share,
  CAST(_m.credit_stretched_share AS FLOAT64) AS credit_stretched_share,
  CAST(_m.high_risk_behavior_share AS FLOAT64) AS high_risk_behavior_share,
  CAST(_m.untrusted_device_share AS FLOAT64) AS untrusted_device_share,
  CAST(_m.distinct_devices AS INT64) AS distinct_devices,
  CAST(_m.distinct_payment_methods AS INT64) AS distinct_payment_methods,
  CAST(_m.max_amount_to_credit_limit_ratio AS FLOAT64) AS max_amount_to_credit_limit_ratio,
  CAST(_m.settled_count AS INT64) AS settled_count,
  CAST(_m.open_count AS INT64) AS open_count,
  CAST(_m.open_amount_cents AS INT64) AS open_amount_cents,
  CAST(_m.missed_payment_count AS INT64) AS missed_payment_count,
  CAST(_m.settled_default_rate AS FLOAT64) AS settled_default_rate,
  CAST(_m.days_since_last_missed_payment AS INT64) AS days_since_last_missed_payment,
  CAST(_m.behaviour_risk_tier AS STRING) AS behaviour_risk_tier
FROM (
WITH as_of AS (
  SELECT
    CAST(DATE_ADD(@end_date, INTERVAL '1' DAY) AS DATETIME) AS as_of_end
), purchases AS (
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
    DATETIME_ADD(t.transaction_ts, INTERVAL (14 * t.installment_count) DAY) < a.as_of_end AS is_settled,
    IF(
      t.will_default
      AND DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY) < a.as_of_end,
      DATETIME_ADD(t.transaction_ts, INTERVAL t.days_to_first_missed_payment DAY),
      NULL
    ) AS missed_payment_ts
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS t
  CROSS JOIN as_of AS a
  WHERE
    t.transaction_date <= @end_date
), customers AS (
  SELECT
    p.customer_key,
    MIN(p.transaction_ts) AS first_txn_ts,
    MAX(p.transaction_ts) AS last_txn_ts,
    MIN(p.transaction_date) AS first_txn_date,
    MAX(p.transaction_date) AS last_txn_date,
    COUNT(*) AS txn_count,
    SUM(p.amount_cents) AS total_amount_cents,
    MAX(p.amount_cents) AS max_amount_cents,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '7' DAY)) AS txn_count_7d,
    COALESCE(
      SUM(
        IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '7' DAY), p.amount_cents, 0)
      ),
      0
    ) AS amount_cents_7d,
    COUNTIF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '28' DAY)) AS txn_count_28d,
    COALESCE(
      SUM(
        IF(p.transaction_date > DATE_SUB(@end_date, INTERVAL '28' DAY), p.amount_cents, 0)
      ),
      0
    ) AS amount_cents_28d,
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
    COUNTIF(NOT p.missed_payment_ts IS NULL) AS missed_payment_count,
    COUNTIF(p.is_settled AND NOT p.missed_payment_ts IS NULL) AS settled_missed_count,
    MAX(p.missed_payment_ts) AS last_missed_payment_ts
  FROM purchases AS p
  GROUP BY
    p.customer_key
), indicators AS (
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
    WHEN i.missed_payment_count > 0
    OR i.avg_risk_score >= 0.6
    OR i.high_risk_behavior_share >= 0.5
    THEN 'high'
    WHEN i.avg_risk_score >= 0.3 OR i.impulse_share + i.high_risk_behavior_share >= 0.5
    THEN 'medium'
    ELSE 'low'
  END AS behaviour_risk_tier
FROM indicators AS i
) AS _m;

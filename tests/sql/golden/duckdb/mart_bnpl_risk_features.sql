-- probe
SELECT
  *
FROM (
WITH as_of AS (
  SELECT
    CAST(CAST($end_date + INTERVAL '1' DAY AS DATE) AS TIMESTAMP) AS as_of_end
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
    CAST(ROUND(t.risk_score * 1000000) AS BIGINT) AS risk_score_micros,
    (
      t.transaction_ts + INTERVAL (14 * t.installment_count) DAY
    ) < a.as_of_end AS is_settled,
    CASE
      WHEN t.will_default
      AND (
        t.transaction_ts + INTERVAL (t.days_to_first_missed_payment) DAY
      ) < a.as_of_end
      THEN t.transaction_ts + INTERVAL (t.days_to_first_missed_payment) DAY
      ELSE NULL
    END AS missed_payment_ts
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS t
  CROSS JOIN as_of AS a
  WHERE
    t.transaction_date <= $end_date
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
    COUNT_IF(p.transaction_date > CAST($end_date - INTERVAL '7' DAY AS DATE)) AS txn_count_7d,
    COALESCE(
      SUM(
        CASE
          WHEN p.transaction_date > CAST($end_date - INTERVAL '7' DAY AS DATE)
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS amount_cents_7d,
    COUNT_IF(p.transaction_date > CAST($end_date - INTERVAL '28' DAY AS DATE)) AS txn_count_28d,
    COALESCE(
      SUM(
        CASE
          WHEN p.transaction_date > CAST($end_date - INTERVAL '28' DAY AS DATE)
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS amount_cents_28d,
    SUM(p.risk_score_micros) AS risk_score_micros,
    MAX(p.risk_score) AS max_risk_score,
    COUNT_IF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNT_IF(p.risk_scenario = 'impulse_purchase') AS impulse_count,
    COUNT_IF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNT_IF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNT_IF(NOT p.device_is_trusted) AS untrusted_device_count,
    COUNT(DISTINCT p.device_id) AS distinct_devices,
    COUNT(DISTINCT p.payment_method_id) AS distinct_payment_methods,
    MAX(p.amount_to_credit_limit_ratio) AS max_amount_to_credit_limit_ratio,
    COUNT_IF(p.is_settled) AS settled_count,
    COUNT_IF(NOT p.is_settled AND p.missed_payment_ts IS NULL) AS open_count,
    COALESCE(
      SUM(
        CASE
          WHEN NOT p.is_settled AND p.missed_payment_ts IS NULL
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS open_amount_cents,
    COUNT_IF(NOT p.missed_payment_ts IS NULL) AS missed_payment_count,
    COUNT_IF(p.is_settled AND NOT p.missed_payment_ts IS NULL) AS settled_missed_count,
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
  $end_date AS as_of_date,
  i.first_txn_ts,
  i.last_txn_ts,
  DATE_DIFF('DAY', i.first_txn_date, $end_date) AS days_since_first_txn,
  DATE_DIFF('DAY', i.last_txn_date, $end_date) AS days_since_last_txn,
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
  CASE
    WHEN i.settled_count <> 0
    THEN i.settled_missed_count / i.settled_count
    ELSE NULL
  END AS settled_default_rate,
  DATE_DIFF('DAY', CAST(i.last_missed_payment_ts AS DATE), $end_date) AS days_since_last_missed_payment,
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
CREATE OR REPLACE TABLE "bnpl_marts"."mart_bnpl_risk_features" AS
SELECT
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.as_of_date AS DATE) AS as_of_date,
  CAST(_m.first_txn_ts AS TIMESTAMP) AS first_txn_ts,
  CAST(_m.last_txn_ts AS TIMESTAMP) AS last_txn_ts,
  CAST(_m.days_since_first_txn AS BIGINT) AS days_since_first_txn,
  CAST(_m.days_since_last_txn AS BIGINT) AS days_since_last_txn,
  CAST(_m.txn_count AS BIGINT) AS txn_count,
  CAST(_m.total_amount_cents AS BIGINT) AS total_amount_cents,
  CAST(_m.avg_amount_cents AS DOUBLE) AS avg_amount_cents,
  CAST(_m.max_amount_cents AS BIGINT) AS max_amount_cents,
  CAST(_m.txn_count_7d AS BIGINT) AS txn_count_7d,
  CAST(_m.amount_cents_7d AS BIGINT) AS amount_cents_7d,
  CAST(_m.txn_count_28d AS BIGINT) AS txn_count_28d,
  CAST(_m.amount_cents_28d AS BIGINT) AS amount_cents_28d,
  CAST(_m.avg_risk_score AS DOUBLE) AS avg_risk_score,
  CAST(_m.max_risk_score AS DOUBLE) AS max_risk_score,
  CAST(_m.high_risk_level_share AS DOUBLE) AS high_risk_level_share,
  CAST(_m.impulse_share AS DOUBLE) AS impulse_share,
  CAST(_m.credit_stretched_share AS DOUBLE) AS credit_stretched_share,
  CAST(_m.high_risk_behavior_share AS DOUBLE) AS high_risk_behavior_share,
  CAST(_m.untrusted_device_share AS DOUBLE) AS untrusted_device_share,
  CAST(_m.distinct_devices AS BIGINT) AS distinct_devices,
  CAST(_m.distinct_payment_methods AS BIGINT) AS distinct_payment_methods,
  CAST(_m.max_amount_to_credit_limit_ratio AS DOUBLE) AS max_amount_to_credit_limit_ratio,
  CAST(_m.settled_count AS BIGINT) AS settled_count,
  CAST(_m.open_count AS BIGINT) AS open_count,
  CAST(_m.open_amount_cents AS BIGINT) AS open_amount_cents,
  CAST(_m.missed_payment_count AS BIGINT) AS missed_payment_count,
  CAST(_m.settled_default_rate AS DOUBLE) AS settled_default_rate,
  CAST(_m.days_since_last_missed_payment AS BIGINT) AS days_since_last_missed_payment,
  CAST(_m.behaviour_risk_tier AS TEXT) AS behaviour_risk_tier
FROM (
WITH as_of AS (
  SELECT
    CAST(CAST($end_date + INTERVAL '1' DAY AS DATE) AS TIMESTAMP) AS as_of_end
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
    CAST(ROUND(t.risk_score * 1000000) AS BIGINT) AS risk_score_micros,
    (
      t.transaction_ts + INTERVAL (14 * t.installment_count) DAY
    ) < a.as_of_end AS is_settled,
    CASE
      WHEN t.will_default
      AND (
        t.transaction_ts + INTERVAL (t.days_to_first_missed_payment) DAY
      ) < a.as_of_end
      THEN t.transaction_ts + INTERVAL (t.days_to_first_missed_payment) DAY
      ELSE NULL
    END AS missed_payment_ts
  FROM "bnpl_intermediate"."int_bnpl_transactions_enriched" AS t
  CROSS JOIN as_of AS a
  WHERE
    t.transaction_date <= $end_date
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
    COUNT_IF(p.transaction_date > CAST($end_date - INTERVAL '7' DAY AS DATE)) AS txn_count_7d,
    COALESCE(
      SUM(
        CASE
          WHEN p.transaction_date > CAST($end_date - INTERVAL '7' DAY AS DATE)
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS amount_cents_7d,
    COUNT_IF(p.transaction_date > CAST($end_date - INTERVAL '28' DAY AS DATE)) AS txn_count_28d,
    COALESCE(
      SUM(
        CASE
          WHEN p.transaction_date > CAST($end_date - INTERVAL '28' DAY AS DATE)
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS amount_cents_28d,
    SUM(p.risk_score_micros) AS risk_score_micros,
    MAX(p.risk_score) AS max_risk_score,
    COUNT_IF(p.risk_level IN ('high', 'very_high')) AS high_risk_level_count,
    COUNT_IF(p.risk_scenario = 'impulse_purchase') AS impulse_count,
    COUNT_IF(p.risk_scenario = 'credit_stretched') AS credit_stretched_count,
    COUNT_IF(p.risk_scenario = 'high_risk_behavior') AS high_risk_behavior_count,
    COUNT_IF(NOT p.device_is_trusted) AS untrusted_device_count,
    COUNT(DISTINCT p.device_id) AS distinct_devices,
    COUNT(DISTINCT p.payment_method_id) AS distinct_payment_methods,
    MAX(p.amount_to_credit_limit_ratio) AS max_amount_to_credit_limit_ratio,
    COUNT_IF(p.is_settled) AS settled_count,
    COUNT_IF(NOT p.is_settled AND p.missed_payment_ts IS NULL) AS open_count,
    COALESCE(
      SUM(
        CASE
          WHEN NOT p.is_settled AND p.missed_payment_ts IS NULL
          THEN p.amount_cents
          ELSE 0
        END
      ),
      0
    ) AS open_amount_cents,
    COUNT_IF(NOT p.missed_payment_ts IS NULL) AS missed_payment_count,
    COUNT_IF(p.is_settled AND NOT p.missed_payment_ts IS NULL) AS settled_missed_count,
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
  $end_date AS as_of_date,
  i.first_txn_ts,
  i.last_txn_ts,
  DATE_DIFF('DAY', i.first_txn_date, $end_date) AS days_since_first_txn,
  DATE_DIFF('DAY', i.last_txn_date, $end_date) AS days_since_last_txn,
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
  CASE
    WHEN i.settled_count <> 0
    THEN i.settled_missed_count / i.settled_count
    ELSE NULL
  END AS settled_default_rate,
  DATE_DIFF('DAY', CAST(i.last_missed_payment_ts AS DATE), $end_date) AS days_since_last_missed_payment,
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

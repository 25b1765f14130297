-- probe
SELECT
  *
FROM (
WITH matured AS (
  SELECT
    f.*,
    t.will_default,
    t.days_to_first_missed_payment,
    f.transaction_ts + INTERVAL (14 * f.installment_count) DAY AS label_matures_ts
  FROM "bnpl_marts"."mart_bnpl_ml_features" AS f
  INNER JOIN "bnpl_intermediate"."int_bnpl_transactions_enriched" AS t
    ON t.transaction_key = f.transaction_key AND t.transaction_date = f.transaction_date
  WHERE
    f.transaction_date <= $end_date
    AND t.transaction_date <= $end_date
    AND (
      f.transaction_ts + INTERVAL (14 * f.installment_count) DAY
    ) < CAST(CAST($end_date + INTERVAL '1' DAY AS DATE) AS TIMESTAMP)
), span AS (
  SELECT
    MIN(m.transaction_date) AS first_day,
    DATE_DIFF('DAY', MIN(m.transaction_date), MAX(m.transaction_date)) + 1 AS days
  FROM matured AS m
), cuts AS (
  SELECT
    CAST(s.first_day + INTERVAL (CAST(FLOOR(70 * s.days / 100) AS BIGINT)) DAY AS DATE) AS validation_from,
    CAST(s.first_day + INTERVAL (CAST(FLOOR(85 * s.days / 100) AS BIGINT)) DAY AS DATE) AS test_from
  FROM span AS s
)
SELECT
  m.*,
  $end_date AS as_of_date,
  CASE
    WHEN m.transaction_date >= c.test_from
    THEN 'test'
    WHEN m.transaction_date >= c.validation_from
    THEN 'validation'
    ELSE 'train'
  END AS split
FROM matured AS m
CROSS JOIN cuts AS c
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date
LIMIT 0;

-- create bnpl_marts.mart_bnpl_ml_training_set
CREATE OR REPLACE TABLE "bnpl_marts"."mart_bnpl_ml_training_set" AS
SELECT
  CAST(_m.transaction_key AS TEXT) AS transaction_key,
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.transaction_ts AS TIMESTAMP) AS transaction_ts,
  CAST(_m.identity_scope AS TEXT) AS identity_scope,
  CAST(_m.amount_cents AS BIGINT) AS amount_cents,
  CAST(_m.installment_count AS BIGINT) AS installment_count,
  CAST(_m.risk_score AS DOUBLE) AS risk_score,
  CAST(_m.purchase_context AS TEXT) AS purchase_context,
  CAST(_m.checkout_speed AS TEXT) AS checkout_speed,
  CAST(_m.cart_abandonment_count AS BIGINT) AS cart_abandonment_count,
  CAST(_m.price_comparison_time AS BIGINT) AS price_comparison_time,
  CAST(_m.time_on_site_seconds AS BIGINT) AS time_on_site_seconds,
  CAST(_m.customer_age_bracket AS TEXT) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS BIGINT) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS TEXT) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS TEXT) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS TEXT) AS customer_verification_level,
  CAST(_m.customer_address_stability AS TEXT) AS customer_address_stability,
  CAST(_m.product_category AS TEXT) AS product_category,
  CAST(_m.product_subcategory AS TEXT) AS product_subcategory,
  CAST(_m.product_brand AS TEXT) AS product_brand,
  CAST(_m.product_price AS DOUBLE) AS product_price,
  CAST(_m.product_bnpl_eligible AS BOOLEAN) AS product_bnpl_eligible,
  CAST(_m.product_risk_category AS TEXT) AS product_risk_category,
  CAST(_m.device_type AS TEXT) AS device_type,
  CAST(_m.device_os AS TEXT) AS device_os,
  CAST(_m.device_is_trusted AS BOOLEAN) AS device_is_trusted,
  CAST(_m.payment_provider AS TEXT) AS payment_provider,
  CAST(_m.payment_credit_limit AS BIGINT) AS payment_credit_limit,
  CAST(_m.day_type AS TEXT) AS day_type,
  CAST(_m.holiday_name AS TEXT) AS holiday_name,
  CAST(_m.day_of_week AS BIGINT) AS day_of_week,
  CAST(_m.is_weekend AS BOOLEAN) AS is_weekend,
  CAST(_m.days_to_next_holiday AS BIGINT) AS days_to_next_holiday,
  CAST(_m.days_since_previous_holiday AS BIGINT) AS days_since_previous_holiday,
  CAST(_m.hour_of_day AS BIGINT) AS hour_of_day,
  CAST(_m.prior_txn_count_7d AS BIGINT) AS prior_txn_count_7d,
  CAST(_m.prior_txn_count_28d AS BIGINT) AS prior_txn_count_28d,
  CAST(_m.prior_txn_count_365d AS BIGINT) AS prior_txn_count_365d,
  CAST(_m.prior_amount_cents_7d AS BIGINT) AS prior_amount_cents_7d,
  CAST(_m.prior_amount_cents_28d AS BIGINT) AS prior_amount_cents_28d,
  CAST(_m.prior_amount_cents_365d AS BIGINT) AS prior_amount_cents_365d,
  CAST(_m.seconds_since_previous_txn AS BIGINT) AS seconds_since_previous_txn,
  CAST(_m.prior_impulse_share AS DOUBLE) AS prior_impulse_share,
  CAST(_m.prior_high_risk_share AS DOUBLE) AS prior_high_risk_share,
  CAST(_m.prior_avg_risk_score AS DOUBLE) AS prior_avg_risk_score,
  CAST(_m.is_new_device AS BOOLEAN) AS is_new_device,
  CAST(_m.is_new_payment_method AS BOOLEAN) AS is_new_payment_method,
  CAST(_m.market_txn_count_prev_day AS BIGINT) AS market_txn_count_prev_day,
  CAST(_m.market_avg_daily_txn_7d AS DOUBLE) AS market_avg_daily_txn_7d,
  CAST(_m.market_avg_daily_txn_28d AS DOUBLE) AS market_avg_daily_txn_28d,
  CAST(_m.market_volume_trend AS DOUBLE) AS market_volume_trend,
  CAST(_m.market_avg_amount_cents_28d AS DOUBLE) AS market_avg_amount_cents_28d,
  CAST(_m.product_device_risk AS TEXT) AS product_device_risk,
  CAST(_m.category_risk AS TEXT) AS category_risk,
  CAST(_m.device_platform AS TEXT) AS device_platform,
  CAST(_m.high_risk_product_on_untrusted_device AS BOOLEAN) AS high_risk_product_on_untrusted_device,
  CAST(_m.first_payment_ratio AS DOUBLE) AS first_payment_ratio,
  CAST(_m.amount_to_credit_limit_ratio AS DOUBLE) AS amount_to_credit_limit_ratio,
  CAST(_m.time_on_site_to_comparison_ratio AS DOUBLE) AS time_on_site_to_comparison_ratio,
  CAST(_m.amount_to_prior_avg_ratio AS DOUBLE) AS amount_to_prior_avg_ratio,
  CAST(_m.exposure_28d_to_credit_limit_ratio AS DOUBLE) AS exposure_28d_to_credit_limit_ratio,
  CAST(_m.amount_to_market_avg_ratio AS DOUBLE) AS amount_to_market_avg_ratio,
  CAST(_m.will_default AS BOOLEAN) AS will_default,
  CAST(_m.days_to_first_missed_payment AS BIGINT) AS days_to_first_missed_payment,
  CAST(_m.label_matures_ts AS TIMESTAMP) AS label_matures_ts,
  CAST(_m.as_of_date AS DATE) AS as_of_date,
  CAST(_m.split AS TEXT) AS split
FROM (
WITH matured AS (
  SELECT
    f.*,
    t.will_default,
    t.days_to_first_missed_payment,
    f.transaction_ts + INTERVAL (14 * f.installment_count) DAY AS label_matures_ts
  FROM "bnpl_marts"."mart_bnpl_ml_features" AS f
  INNER JOIN "bnpl_intermediate"."int_bnpl_transactions_enriched" AS t
    ON t.transaction_key = f.transaction_key AND t.transaction_date = f.transaction_date
  WHERE
    f.transaction_date <= $end_date
    AND t.transaction_date <= $end_date
    AND (
      f.transaction_ts + INTERVAL (14 * f.installment_count) DAY
    ) < CAST(CAST($end_date + INTERVAL '1' DAY AS DATE) AS TIMESTAMP)
), span AS (
  SELECT
    MIN(m.transaction_date) AS first_day,
    DATE_DIFF('DAY', MIN(m.transaction_date), MAX(m.transaction_date)) + 1 AS days
  FROM matured AS m
), cuts AS (
  SELECT
    CAST(s.first_day + INTERVAL (CAST(FLOOR(70 * s.days / 100) AS BIGINT)) DAY AS DATE) AS validation_from,
    CAST(s.first_day + INTERVAL (CAST(FLOOR(85 * s.days / 100) AS BIGINT)) DAY AS DATE) AS test_from
  FROM span AS s
)
SELECT
  m.*,
  $end_date AS as_of_date,
  CASE
    WHEN m.transaction_date >= c.test_from
    THEN 'test'
    WHEN m.transaction_date >= c.validation_from
    THEN 'validation'
    ELSE 'train'
  END AS split
FROM matured AS m
CROSS JOIN cuts AS c
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date;

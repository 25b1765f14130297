-- probe
SELECT
  *
FROM (
WITH matured AS (
  SELECT
    f.*,
    t.will_default,
    t.days_to_first_missed_payment,
    DATETIME_ADD(f.transaction_ts, INTERVAL (14 * f.installment_count) DAY) AS label_matures_ts
  FROM `proj.dev_bnpl_marts.mart_bnpl_ml_features` AS f
  INNER JOIN `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS t
    ON t.transaction_key = f.transaction_key AND t.transaction_date = f.transaction_date
  WHERE
    f.transaction_date <= @end_date
    AND t.transaction_date <= @end_date
    AND DATETIME_ADD(f.transaction_ts, INTERVAL (14 * f.installment_count) DAY) < CAST(DATE_ADD(@end_date, INTERVAL '1' DAY) AS DATETIME)
), span AS (
  SELECT
    MIN(m.transaction_date) AS first_day,
    DATE_DIFF(MAX(m.transaction_date), MIN(m.transaction_date), DAY) + 1 AS days
  FROM matured AS m
), cuts AS (
  SELECT
    DATE_ADD(s.first_day, INTERVAL (CAST(FLOOR(70 * s.days / 100) AS INT64)) DAY) AS validation_from,
    DATE_ADD(s.first_day, INTERVAL (CAST(FLOOR(85 * s.days / 100) AS INT64)) DAY) AS test_from
  FROM span AS s
)
SELECT
  m.*,
  @end_date AS as_of_date,
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
  _m.transaction_date BETWEEN @start_date AND @end_date
LIMIT 0;

-- create bnpl_marts.mart_bnpl_ml_training_set
CREATE OR REPLACE TABLE `proj.dev_bnpl_marts.mart_bnpl_ml_training_set`
PARTITION BY transaction_date
CLUSTER BY customer_key AS
SELECT
  CAST(_m.transaction_key AS STRING) AS transaction_key,
  CAST(_m.customer_key AS STRING) AS customer_key,
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.transaction_ts AS DATETIME) AS transaction_ts,
  CAST(_m.identity_scope AS STRING) AS identity_scope,
  CAST(_m.amount_cents AS INT64) AS amount_cents,
  CAST(_m.installment_count AS INT64) AS installment_count,
  CAST(_m.risk_score AS FLOAT64) AS risk_score,
  CAST(_m.purchase_context AS STRING) AS purchase_context,
  CAST(_m.checkout_speed AS STRING) AS checkout_speed,
  CAST(_m.cart_abandonment_count AS INT64) AS cart_abandonment_count,
  CAST(_m.price_comparison_time AS INT64) AS price_comparison_time,
  CAST(_m.time_on_site_seconds AS INT64) AS time_on_site_seconds,
  CAST(_m.customer_age_bracket AS STRING) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS INT64) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS STRING) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS STRING) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS STRING) AS customer_verification_level,
  CAST(_m.customer_address_stability AS STRING) AS customer_address_stability,
  CAST(_m.product_category AS STRING) AS product_category,
  CAST(_m.product_subcategory AS STRING) AS product_subcategory,
  CAST(_m.product_brand AS STRING) AS product_brand,
  CAST(_m.product_price AS FLOAT64) AS product_price,
  CAST(_m.product_bnpl_eligible AS BOOL) AS product_bnpl_eligible,
  CAST(_m.product_risk_category AS STRING) AS product_risk_category,
  CAST(_m.device_type AS STRING) AS device_type,
  CAST(_m.device_os AS STRING) AS device_os,
  CAST(_m.device_is_trusted AS BOOL) AS device_is_trusted,
  CAST(_m.payment_provider AS STRING) AS payment_provider,
  CAST(_m.payment_credit_limit AS INT64) AS payment_credit_limit,
  CAST(_m.day_type AS STRING) AS day_type,
  CAST(_m.holiday_name AS STRING) AS holiday_name,
  CAST(_m.day_of_week AS INT64) AS day_of_week,
  CAST(_m.is_weekend AS BOOL) AS is_weekend,
  CAST(_m.days_to_next_holiday AS INT64) AS days_to_next_holiday,
  CAST(_m.days_since_previous_holiday AS INT64) AS days_since_previous_holiday,
  CAST(_m.hour_of_day AS INT64) AS hour_of_day,
  CAST(_m.prior_txn_count_7d AS INT64) AS prior_txn_count_7d,
  CAST(_m.prior_txn_count_28d AS INT64) AS prior_txn_count_28d,
  CAST(_m.prior_txn_count_365d AS INT64) AS prior_txn_count_365d,
  CAST(_m.prior_amount_cents_7d AS INT64) AS prior_amount_cents_7d,
  CAST(_m.prior_amount_cents_28d AS INT64) AS prior_amount_cents_28d,
  CAST(_m.prior_amount_cents_365d AS INT64) AS prior_amount_cents_365d,
  CAST(_m.seconds_since_previous_txn AS INT64) AS seconds_since_previous_txn,
  CAST(_m.prior_impulse_share AS FLOAT64) AS prior_impulse_share,
  CAST(_m.prior_high_risk_share AS FLOAT64) AS prior_high_risk_share,
  CAST(_m.prior_avg_risk_score AS FLOAT64) AS prior_avg_risk_score,
  CAST(_m.is_new_device AS BOOL) AS is_new_device,
  CAST(_m.is_new_payment_method AS BOOL) AS is_new_payment_method,
  CAST(_m.market_txn_count_prev_day AS INT64) AS market_txn_count_prev_day,
  CAST(_m.market_avg_daily_txn_7d AS FLOAT64) AS market_avg_daily_txn_7d,
  CAST(_m.market_avg_daily_txn_28d AS FLOAT64) AS market_avg_daily_txn_28d,
  CAST(_m.market_volume_trend AS FLOAT64) AS market_volume_trend,
  CAST(_m.market_avg_amount_cents_28d AS FLOAT64) AS market_avg_amount_cents_28d,
  CAST(_m.product_device_risk AS STRING) AS product_device_risk,
  CAST(_m.category_risk AS STRING) AS category_risk,
  CAST(_m.device_platform AS STRING) AS device_platform,
  CAST(_m.high_risk_product_on_untrusted_device AS BOOL) AS high_risk_product_on_untrusted_device,
  CAST(_m.first_payment_ratio AS FLOAT64) AS first_payment_ratio,
  CAST(_m.amount_to_credit_limit_ratio AS FLOAT64) AS amount_to_credit_limit_ratio,
  CAST(_m.time_on_site_to_comparison_ratio AS FLOAT64) AS time_on_site_to_comparison_ratio,
  CAST(_m.amount_to_prior_avg_ratio AS FLOAT64) AS amount_to_prior_avg_ratio,
  CAST(_m.exposure_28d_to_credit_limit_ratio AS FLOAT64) AS exposure_28d_to_credit_limit_ratio,
  CAST(_m.amount_to_market_avg_ratio AS FLOAT64) AS amount_to_market_avg_ratio,
  CAST(_m.will_default AS BOOL) AS will_default,
  CAST(_m.days_to_first_missed_payment AS INT64) AS days_to_first_missed_payment,
  CAST(_m.label_matures_ts AS DATETIME) AS label_matures_ts,
  CAST(_m.as_of_date AS DATE) AS as_of_date,
  CAST(_m.split AS STRING) AS split
FROM (
WITH matured AS (
  SELECT
    f.*,
    t.will_default,
    t.days_to_first_missed_payment,
    DATETIME_ADD(f.transaction_ts, INTERVAL (14 * f.installment_count) DAY) AS label_matures_ts
  FROM `proj.dev_bnpl_marts.mart_bnpl_ml_features` AS f
  INNER JOIN `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS t
    ON t.transaction_key = f.transaction_key AND t.transaction_date = f.transaction_date
  WHERE
    f.transaction_date <= @end_date
    AND t.transaction_date <= @end_date
    AND DATETIME_ADD(f.transaction_ts, INTERVAL (14 * f.installment_count) DAY) < CAST(DATE_ADD(@end_date, INTERVAL '1' DAY) AS DATETIME)
), span AS (
  SELECT
    MIN(m.transaction_date) AS first_day,
    DATE_DIFF(MAX(m.transaction_date), MIN(m.transaction_date), DAY) + 1 AS days
  FROM matured AS m
), cuts AS (
  SELECT
    DATE_ADD(s.first_day, INTERVAL (CAST(FLOOR(70 * s.days / 100) AS INT64)) DAY) AS validation_from,
    DATE_ADD(s.first_day, INTERVAL (CAST(FLOOR(85 * s.days / 100) AS INT64)) DAY) AS test_from
  FROM span AS s
)
SELECT
  m.*,
  @end_date AS as_of_date,
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
  _m.transaction_date BETWEEN @start_date AND @end_date;

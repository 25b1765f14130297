-- probe
SELECT
  *
FROM (
WITH history AS (
  SELECT
    e.*,
    DATETIME_DIFF(e.transaction_ts, CAST('1970-01-01 00:00:00' AS DATETIME), SECOND) AS ts_seconds
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '28' DAY) AND @end_date
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
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_7d,
  COUNT(*) OVER (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_28d,
  COALESCE(
    SUM(h.amount_cents) OVER (
      PARTITION BY h.customer_key
      ORDER BY h.ts_seconds
      RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
    ),
    0
  ) AS prior_amount_cents_7d,
  COALESCE(
    SUM(h.amount_cents) OVER (
      PARTITION BY h.customer_key
      ORDER BY h.ts_seconds
      RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
    ),
    0
  ) AS prior_amount_cents_28d,
  h.ts_seconds - MAX(h.ts_seconds) OVER (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS seconds_since_previous_txn
FROM history AS h
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date
LIMIT 0;

-- replace_range bnpl_marts.mart_bnpl_ml_features
DELETE FROM `proj.dev_bnpl_marts.mart_bnpl_ml_features`
WHERE
  transaction_date BETWEEN @start_date AND @end_date;

INSERT INTO `proj.dev_bnpl_marts.mart_bnpl_ml_features` (
  transaction_key,
  customer_key,
  transaction_date,
  transaction_ts,
  identity_scope,
  amount_cents,
  installment_count,
  first_payment_ratio,
  amount_to_credit_limit_ratio,
  risk_score,
  purchase_context,
  checkout_speed,
  cart_abandonment_count,
  price_comparison_time,
  time_on_site_seconds,
  time_on_site_to_comparison_ratio,
  customer_age_bracket,
  customer_tenure_days,
  customer_income_bracket,
  customer_credit_score_range,
  customer_verification_level,
  customer_address_stability,
  customer_attributes_changed,
  product_category,
  product_subcategory,
  product_brand,
  product_price,
  product_bnpl_eligible,
  product_risk_category,
  device_type,
  device_os,
  device_is_trusted,
  payment_provider,
  payment_credit_limit,
  day_type,
  holiday_name,
  day_of_week,
  is_weekend,
  days_to_next_holiday,
  days_since_previous_holiday,
  hour_of_day,
  prior_txn_count_7d,
  prior_txn_count_28d,
  prior_amount_cents_7d,
  prior_amount_cents_28d,
  seconds_since_previous_txn
)
SELECT
  CAST(_m.transaction_key AS STRING) AS transaction_key,
  CAST(_m.customer_key AS STRING) AS customer_key,
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.transaction_ts AS DATETIME) AS transaction_ts,
  CAST(_m.identity_scope AS STRING) AS identity_scope,
  CAST(_m.amount_cents AS INT64) AS amount_cents,
  CAST(_m.installment_count AS INT64) AS installment_count,
  CAST(_m.first_payment_ratio AS FLOAT64) AS first_payment_ratio,
  CAST(_m.amount_to_credit_limit_ratio AS FLOAT64) AS amount_to_credit_limit_ratio,
  CAST(_m.risk_score AS FLOAT64) AS risk_score,
  CAST(_m.purchase_context AS STRING) AS purchase_context,
  CAST(_m.checkout_speed AS STRING) AS checkout_speed,
  CAST(_m.cart_abandonment_count AS INT64) AS cart_abandonment_count,
  CAST(_m.price_comparison_time AS INT64) AS price_comparison_time,
  CAST(_m.time_on_site_seconds AS INT64) AS time_on_site_seconds,
  CAST(_m.time_on_site_to_comparison_ratio AS FLOAT64) AS time_on_site_to_comparison_ratio,
  CAST(_m.customer_age_bracket AS STRING) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS INT64) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS STRING) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS STRING) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS STRING) AS customer_verification_level,
  CAST(_m.customer_address_stability AS STRING) AS customer_address_stability,
  CAST(_m.customer_attributes_changed AS BOOL) AS customer_attributes_changed,
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
  CAST(_m.prior_amount_cents_7d AS INT64) AS prior_amount_cents_7d,
  CAST(_m.prior_amount_cents_28d AS INT64) AS prior_amount_cents_28d,
  CAST(_m.seconds_since_previous_txn AS INT64) AS seconds_since_previous_txn
FROM (
WITH history AS (
  SELECT
    e.*,
    DATETIME_DIFF(e.transaction_ts, CAST('1970-01-01 00:00:00' AS DATETIME), SECOND) AS ts_seconds
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '28' DAY) AND @end_date
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
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_7d,
  COUNT(*) OVER (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS prior_txn_count_28d,
  COALESCE(
    SUM(h.amount_cents) OVER (
      PARTITION BY h.customer_key
      ORDER BY h.ts_seconds
      RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
    ),
    0
  ) AS prior_amount_cents_7d,
  COALESCE(
    SUM(h.amount_cents) OVER (
      PARTITION BY h.customer_key
      ORDER BY h.ts_seconds
      RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
    ),
    0
  ) AS prior_amount_cents_28d,
  h.ts_seconds - MAX(h.ts_seconds) OVER (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  ) AS seconds_since_previous_txn
FROM history AS h
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date;

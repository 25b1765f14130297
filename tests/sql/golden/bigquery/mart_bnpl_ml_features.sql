-- probe
SELECT
  *
FROM (
WITH run_customers AS (
  SELECT DISTINCT
    e.customer_key
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN @start_date AND @end_date
), history AS (
  /* the transactions of the customers active in the run's days, from 366 days before its first */
  /* day to its last: the rows outside the run's days only feed the windows */
  SELECT
    e.transaction_key,
    e.customer_key,
    e.device_id,
    e.payment_method_id,
    e.amount_cents,
    CAST(ROUND(e.risk_score * 1000000) AS INT64) AS risk_score_micros,
    IF(e.risk_scenario = 'impulse_purchase', 1, 0) AS is_impulse,
    IF(e.risk_scenario = 'high_risk_behavior', 1, 0) AS is_high_risk,
    DATETIME_DIFF(e.transaction_ts, CAST('1970-01-01 00:00:00' AS DATETIME), SECOND) AS ts_seconds
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '366' DAY) AND @end_date
    AND e.customer_key IN (
      SELECT
        r.customer_key
      FROM run_customers AS r
    )
), customer_windows AS (
  SELECT
    h.transaction_key,
    COUNT(*) OVER before_365d AS prior_txn_count_365d,
    COALESCE(SUM(h.amount_cents) OVER before_365d, 0) AS prior_amount_cents_365d,
    COUNT(*) OVER before_7d AS prior_txn_count_7d,
    COUNT(*) OVER before_28d AS prior_txn_count_28d,
    COALESCE(SUM(h.amount_cents) OVER before_7d, 0) AS prior_amount_cents_7d,
    COALESCE(SUM(h.amount_cents) OVER before_28d, 0) AS prior_amount_cents_28d,
    h.ts_seconds - MAX(h.ts_seconds) OVER before_365d AS seconds_since_previous_txn,
    SUM(h.is_impulse) OVER before_365d AS prior_impulse_count,
    SUM(h.is_high_risk) OVER before_365d AS prior_high_risk_count,
    SUM(h.risk_score_micros) OVER before_365d AS prior_risk_score_micros,
    COUNT(*) OVER (
      PARTITION BY h.customer_key, h.device_id
      ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_device_txn_count,
    COUNT(*) OVER (
      PARTITION BY h.customer_key, h.payment_method_id
      ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_payment_method_txn_count
  FROM history AS h
  WINDOW before_365d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
  ), before_7d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ), before_28d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  )
), market_days AS (
  SELECT
    e.transaction_date,
    COUNT(*) AS txn_count,
    SUM(e.amount_cents) AS amount_cents
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '28' DAY) AND @end_date
  GROUP BY
    e.transaction_date
), run_days AS (
  SELECT DISTINCT
    e.transaction_date
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN @start_date AND @end_date
), market AS (
  /* the loaded days strictly before each run day: never the day itself */
  SELECT
    d.transaction_date,
    SUM(
      IF(
        m.transaction_date = DATE_SUB(d.transaction_date, INTERVAL '1' DAY),
        m.txn_count,
        NULL
      )
    ) AS txn_count_prev_day,
    SUM(
      IF(
        m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL '7' DAY),
        m.txn_count,
        NULL
      )
    ) AS txn_count_7d,
    COUNTIF(m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL '7' DAY)) AS loaded_days_7d,
    SUM(m.txn_count) AS txn_count_28d,
    SUM(m.amount_cents) AS amount_cents_28d,
    COUNT(m.transaction_date) AS loaded_days_28d
  FROM run_days AS d
  LEFT JOIN market_days AS m
    ON m.transaction_date BETWEEN DATE_SUB(d.transaction_date, INTERVAL '28' DAY) AND DATE_SUB(d.transaction_date, INTERVAL '1' DAY)
  GROUP BY
    d.transaction_date
), market_features AS (
  SELECT
    m.transaction_date,
    m.txn_count_prev_day,
    SAFE_DIVIDE(m.txn_count_7d, m.loaded_days_7d) AS avg_daily_txn_7d,
    SAFE_DIVIDE(m.txn_count_28d, m.loaded_days_28d) AS avg_daily_txn_28d,
    SAFE_DIVIDE(m.amount_cents_28d, m.txn_count_28d) AS avg_amount_cents_28d
  FROM market AS m
)
SELECT
  e.transaction_key,
  e.customer_key,
  e.transaction_date,
  e.transaction_ts,
  e.identity_scope,
  e.amount_cents,
  e.installment_count,
  e.risk_score,
  e.purchase_context,
  e.checkout_speed,
  e.cart_abandonment_count,
  e.price_comparison_time,
  e.time_on_site_seconds,
  e.customer_age_bracket,
  e.customer_tenure_days,
  e.customer_income_bracket,
  e.customer_credit_score_range,
  e.customer_verification_level,
  e.customer_address_stability,
  e.product_category,
  e.product_subcategory,
  e.product_brand,
  e.product_price,
  e.product_bnpl_eligible,
  e.product_risk_category,
  e.device_type,
  e.device_os,
  e.device_is_trusted,
  e.payment_provider,
  e.payment_credit_limit,
  e.day_type,
  e.holiday_name,
  e.day_of_week,
  e.is_weekend,
  e.days_to_next_holiday,
  e.days_since_previous_holiday,
  e.hour_of_day,
  w.prior_txn_count_7d,
  w.prior_txn_count_28d,
  w.prior_txn_count_365d,
  w.prior_amount_cents_7d,
  w.prior_amount_cents_28d,
  w.prior_amount_cents_365d,
  w.seconds_since_previous_txn,
  SAFE_DIVIDE(w.prior_impulse_count, w.prior_txn_count_365d) AS prior_impulse_share,
  SAFE_DIVIDE(w.prior_high_risk_count, w.prior_txn_count_365d) AS prior_high_risk_share,
  ROUND(SAFE_DIVIDE(w.prior_risk_score_micros, w.prior_txn_count_365d)) / 1000000 AS prior_avg_risk_score,
  w.prior_device_txn_count = 0 AS is_new_device,
  w.prior_payment_method_txn_count = 0 AS is_new_payment_method,
  mf.txn_count_prev_day AS market_txn_count_prev_day,
  mf.avg_daily_txn_7d AS market_avg_daily_txn_7d,
  mf.avg_daily_txn_28d AS market_avg_daily_txn_28d,
  SAFE_DIVIDE(mf.avg_daily_txn_7d, mf.avg_daily_txn_28d) AS market_volume_trend,
  mf.avg_amount_cents_28d AS market_avg_amount_cents_28d,
  CONCAT(e.product_risk_category, '/', IF(e.device_is_trusted, 'trusted', 'untrusted')) AS product_device_risk,
  CONCAT(e.product_category, '/', e.product_risk_category) AS category_risk,
  CONCAT(e.device_type, '/', e.device_os) AS device_platform,
  e.product_risk_category = 'high' AND NOT e.device_is_trusted AS high_risk_product_on_untrusted_device,
  e.first_payment_ratio,
  e.amount_to_credit_limit_ratio,
  e.time_on_site_to_comparison_ratio,
  SAFE_DIVIDE(e.amount_cents * w.prior_txn_count_365d, w.prior_amount_cents_365d) AS amount_to_prior_avg_ratio,
  SAFE_DIVIDE(w.prior_amount_cents_28d + e.amount_cents, e.payment_credit_limit * 100) AS exposure_28d_to_credit_limit_ratio,
  SAFE_DIVIDE(e.amount_cents, mf.avg_amount_cents_28d) AS amount_to_market_avg_ratio
FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
INNER JOIN customer_windows AS w
  ON w.transaction_key = e.transaction_key
LEFT JOIN market_features AS mf
  ON mf.transaction_date = e.transaction_date
WHERE
  e.transaction_date BETWEEN @start_date AND @end_date
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
  risk_score,
  purchase_context,
  checkout_speed,
  cart_abandonment_count,
  price_comparison_time,
  time_on_site_seconds,
  customer_age_bracket,
  customer_tenure_days,
  customer_income_bracket,
  customer_credit_score_range,
  customer_verification_level,
  customer_address_stability,
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
  prior_txn_count_365d,
  prior_amount_cents_7d,
  prior_amount_cents_28d,
  prior_amount_cents_365d,
  seconds_since_previous_txn,
  prior_impulse_share,
  prior_high_risk_share,
  prior_avg_risk_score,
  is_new_device,
  is_new_payment_method,
  market_txn_count_prev_day,
  market_avg_daily_txn_7d,
  market_avg_daily_txn_28d,
  market_volume_trend,
  market_avg_amount_cents_28d,
  product_device_risk,
  category_risk,
  device_platform,
  high_risk_product_on_untrusted_device,
  first_payment_ratio,
  amount_to_credit_limit_ratio,
  time_on_site_to_comparison_ratio,
  amount_to_prior_avg_ratio,
  exposure_28d_to_credit_limit_ratio,
  amount_to_market_avg_ratio
)
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
  CAST(_m.amount_to_market_avg_ratio AS FLOAT64) AS amount_to_market_avg_ratio
FROM (
WITH run_customers AS (
  SELECT DISTINCT
    e.customer_key
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN @start_date AND @end_date
), history AS (
  /* the transactions of the customers active in the run's days, from 366 days before its first */
  /* day to its last: the rows outside the run's days only feed the windows */
  SELECT
    e.transaction_key,
    e.customer_key,
    e.device_id,
    e.payment_method_id,
    e.amount_cents,
    CAST(ROUND(e.risk_score * 1000000) AS INT64) AS risk_score_micros,
    IF(e.risk_scenario = 'impulse_purchase', 1, 0) AS is_impulse,
    IF(e.risk_scenario = 'high_risk_behavior', 1, 0) AS is_high_risk,
    DATETIME_DIFF(e.transaction_ts, CAST('1970-01-01 00:00:00' AS DATETIME), SECOND) AS ts_seconds
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '366' DAY) AND @end_date
    AND e.customer_key IN (
      SELECT
        r.customer_key
      FROM run_customers AS r
    )
), customer_windows AS (
  SELECT
    h.transaction_key,
    COUNT(*) OVER before_365d AS prior_txn_count_365d,
    COALESCE(SUM(h.amount_cents) OVER before_365d, 0) AS prior_amount_cents_365d,
    COUNT(*) OVER before_7d AS prior_txn_count_7d,
    COUNT(*) OVER before_28d AS prior_txn_count_28d,
    COALESCE(SUM(h.amount_cents) OVER before_7d, 0) AS prior_amount_cents_7d,
    COALESCE(SUM(h.amount_cents) OVER before_28d, 0) AS prior_amount_cents_28d,
    h.ts_seconds - MAX(h.ts_seconds) OVER before_365d AS seconds_since_previous_txn,
    SUM(h.is_impulse) OVER before_365d AS prior_impulse_count,
    SUM(h.is_high_risk) OVER before_365d AS prior_high_risk_count,
    SUM(h.risk_score_micros) OVER before_365d AS prior_risk_score_micros,
    COUNT(*) OVER (
      PARTITION BY h.customer_key, h.device_id
      ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_device_txn_count,
    COUNT(*) OVER (
      PARTITION BY h.customer_key, h.payment_method_id
      ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_payment_method_txn_count
  FROM history AS h
  WINDOW before_365d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
  ), before_7d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
  ), before_28d AS (
    PARTITION BY h.customer_key
    ORDER BY h.ts_seconds
    RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
  )
), market_days AS (
  SELECT
    e.transaction_date,
    COUNT(*) AS txn_count,
    SUM(e.amount_cents) AS amount_cents
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL '28' DAY) AND @end_date
  GROUP BY
    e.transaction_date
), run_days AS (
  SELECT DISTINCT
    e.transaction_date
  FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
  WHERE
    e.transaction_date BETWEEN @start_date AND @end_date
), market AS (
  /* the loaded days strictly before each run day: never the day itself */
  SELECT
    d.transaction_date,
    SUM(
      IF(
        m.transaction_date = DATE_SUB(d.transaction_date, INTERVAL '1' DAY),
        m.txn_count,
        NULL
      )
    ) AS txn_count_prev_day,
    SUM(
      IF(
        m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL '7' DAY),
        m.txn_count,
        NULL
      )
    ) AS txn_count_7d,
    COUNTIF(m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL '7' DAY)) AS loaded_days_7d,
    SUM(m.txn_count) AS txn_count_28d,
    SUM(m.amount_cents) AS amount_cents_28d,
    COUNT(m.transaction_date) AS loaded_days_28d
  FROM run_days AS d
  LEFT JOIN market_days AS m
    ON m.transaction_date BETWEEN DATE_SUB(d.transaction_date, INTERVAL '28' DAY) AND DATE_SUB(d.transaction_date, INTERVAL '1' DAY)
  GROUP BY
    d.transaction_date
), market_features AS (
  SELECT
    m.transaction_date,
    m.txn_count_prev_day,
    SAFE_DIVIDE(m.txn_count_7d, m.loaded_days_7d) AS avg_daily_txn_7d,
    SAFE_DIVIDE(m.txn_count_28d, m.loaded_days_28d) AS avg_daily_txn_28d,
    SAFE_DIVIDE(m.amount_cents_28d, m.txn_count_28d) AS avg_amount_cents_28d
  FROM market AS m
)
SELECT
  e.transaction_key,
  e.customer_key,
  e.transaction_date,
  e.transaction_ts,
  e.identity_scope,
  e.amount_cents,
  e.installment_count,
  e.risk_score,
  e.purchase_context,
  e.checkout_speed,
  e.cart_abandonment_count,
  e.price_comparison_time,
  e.time_on_site_seconds,
  e.customer_age_bracket,
  e.customer_tenure_days,
  e.customer_income_bracket,
  e.customer_credit_score_range,
  e.customer_verification_level,
  e.customer_address_stability,
  e.product_category,
  e.product_subcategory,
  e.product_brand,
  e.product_price,
  e.product_bnpl_eligible,
  e.product_risk_category,
  e.device_type,
  e.device_os,
  e.device_is_trusted,
  e.payment_provider,
  e.payment_credit_limit,
  e.day_type,
  e.holiday_name,
  e.day_of_week,
  e.is_weekend,
  e.days_to_next_holiday,
  e.days_since_previous_holiday,
  e.hour_of_day,
  w.prior_txn_count_7d,
  w.prior_txn_count_28d,
  w.prior_txn_count_365d,
  w.prior_amount_cents_7d,
  w.prior_amount_cents_28d,
  w.prior_amount_cents_365d,
  w.seconds_since_previous_txn,
  SAFE_DIVIDE(w.prior_impulse_count, w.prior_txn_count_365d) AS prior_impulse_share,
  SAFE_DIVIDE(w.prior_high_risk_count, w.prior_txn_count_365d) AS prior_high_risk_share,
  ROUND(SAFE_DIVIDE(w.prior_risk_score_micros, w.prior_txn_count_365d)) / 1000000 AS prior_avg_risk_score,
  w.prior_device_txn_count = 0 AS is_new_device,
  w.prior_payment_method_txn_count = 0 AS is_new_payment_method,
  mf.txn_count_prev_day AS market_txn_count_prev_day,
  mf.avg_daily_txn_7d AS market_avg_daily_txn_7d,
  mf.avg_daily_txn_28d AS market_avg_daily_txn_28d,
  SAFE_DIVIDE(mf.avg_daily_txn_7d, mf.avg_daily_txn_28d) AS market_volume_trend,
  mf.avg_amount_cents_28d AS market_avg_amount_cents_28d,
  CONCAT(e.product_risk_category, '/', IF(e.device_is_trusted, 'trusted', 'untrusted')) AS product_device_risk,
  CONCAT(e.product_category, '/', e.product_risk_category) AS category_risk,
  CONCAT(e.device_type, '/', e.device_os) AS device_platform,
  e.product_risk_category = 'high' AND NOT e.device_is_trusted AS high_risk_product_on_untrusted_device,
  e.first_payment_ratio,
  e.amount_to_credit_limit_ratio,
  e.time_on_site_to_comparison_ratio,
  SAFE_DIVIDE(e.amount_cents * w.prior_txn_count_365d, w.prior_amount_cents_365d) AS amount_to_prior_avg_ratio,
  SAFE_DIVIDE(w.prior_amount_cents_28d + e.amount_cents, e.payment_credit_limit * 100) AS exposure_28d_to_credit_limit_ratio,
  SAFE_DIVIDE(e.amount_cents, mf.avg_amount_cents_28d) AS amount_to_market_avg_ratio
FROM `proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched` AS e
INNER JOIN customer_windows AS w
  ON w.transaction_key = e.transaction_key
LEFT JOIN market_features AS mf
  ON mf.transaction_date = e.transaction_date
WHERE
  e.transaction_date BETWEEN @start_date AND @end_date
) AS _m
WHERE
  _m.transaction_date BETWEEN @start_date AND @end_date;

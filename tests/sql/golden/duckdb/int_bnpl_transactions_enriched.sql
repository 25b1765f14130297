-- probe
SELECT
  *
FROM (
WITH transactions AS (
  SELECT
    t.*
  FROM "bnpl_intermediate"."stg_bnpl_raw_transactions" AS t
  WHERE
    t.transaction_date BETWEEN $start_date AND $end_date
), customers AS (
  SELECT
    c.customer_key,
    c.transaction_date,
    c.batch_id,
    c.identity_scope,
    c.attribute_fingerprint,
    c.attributes_changed
  FROM "bnpl_intermediate"."stg_bnpl_extracted_customers" AS c
  WHERE
    c.transaction_date BETWEEN $start_date AND $end_date
), calendar AS (
  SELECT
    *
  FROM "bnpl_intermediate"."int_bnpl_calendar_days"
  WHERE
    calendar_date BETWEEN $start_date AND $end_date
)
SELECT
  t.*
  EXCLUDE (extra, record_id),
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
  CASE
    WHEN t.amount_cents <> 0
    THEN t.first_payment_cents / t.amount_cents
    ELSE NULL
  END AS first_payment_ratio,
  CASE
    WHEN t.price_comparison_time <> 0
    THEN t.time_on_site_seconds / t.price_comparison_time
    ELSE NULL
  END AS time_on_site_to_comparison_ratio,
  CASE
    WHEN (
      t.payment_credit_limit * 100
    ) <> 0
    THEN t.amount_cents / (
      t.payment_credit_limit * 100
    )
    ELSE NULL
  END AS amount_to_credit_limit_ratio
FROM transactions AS t
LEFT JOIN customers AS c
  ON c.customer_key = t.customer_key
  AND c.transaction_date = t.transaction_date
  AND c.batch_id = t.batch_id
LEFT JOIN calendar AS cal
  ON cal.calendar_date = t.transaction_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date
LIMIT 0;

-- replace_range bnpl_intermediate.int_bnpl_transactions_enriched
DELETE FROM "bnpl_intermediate"."int_bnpl_transactions_enriched"
WHERE
  transaction_date BETWEEN $start_date AND $end_date;

INSERT INTO "bnpl_intermediate"."int_bnpl_transactions_enriched" (
  transaction_key,
  transaction_date,
  transaction_ts,
  batch_id,
  customer_key,
  amount_cents,
  transaction_id,
  customer_id,
  product_id,
  device_id,
  payment_method_id,
  amount,
  currency,
  status,
  credit_utilization,
  risk_scenario,
  risk_score,
  risk_level,
  installment_count,
  first_payment_amount,
  payment_frequency,
  purchase_context,
  checkout_speed,
  cart_abandonment_count,
  price_comparison_time,
  time_on_site_seconds,
  economic_stress_factor,
  will_default,
  days_to_first_missed_payment,
  customer_age_bracket,
  customer_tenure_days,
  customer_income_bracket,
  customer_credit_score_range,
  customer_verification_level,
  customer_address_stability,
  customer_state,
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
  payment_type,
  payment_credit_limit,
  loaded_at,
  first_payment_cents,
  identity_scope,
  attribute_fingerprint,
  customer_attributes_changed,
  day_type,
  holiday_name,
  day_of_week,
  is_weekend,
  days_to_next_holiday,
  days_since_previous_holiday,
  hour_of_day,
  first_payment_ratio,
  time_on_site_to_comparison_ratio,
  amount_to_credit_limit_ratio
)
SELECT
  CAST(_m.transaction_key AS TEXT) AS transaction_key,
  CAST(_m.transaction_date AS DATE) AS transaction_date,
  CAST(_m.transaction_ts AS TIMESTAMP) AS transaction_ts,
  CAST(_m.batch_id AS TEXT) AS batch_id,
  CAST(_m.customer_key AS TEXT) AS customer_key,
  CAST(_m.amount_cents AS BIGINT) AS amount_cents,
  CAST(_m.transaction_id AS TEXT) AS transaction_id,
  CAST(_m.customer_id AS TEXT) AS customer_id,
  CAST(_m.product_id AS TEXT) AS product_id,
  CAST(_m.device_id AS TEXT) AS device_id,
  CAST(_m.payment_method_id AS TEXT) AS payment_method_id,
  CAST(_m.amount AS DOUBLE) AS amount,
  CAST(_m.currency AS TEXT) AS currency,
  CAST(_m.status AS TEXT) AS status,
  CAST(_m.credit_utilization AS DOUBLE) AS credit_utilization,
  CAST(_m.risk_scenario AS TEXT) AS risk_scenario,
  CAST(_m.risk_score AS DOUBLE) AS risk_score,
  CAST(_m.risk_level AS TEXT) AS risk_level,
  CAST(_m.installment_count AS BIGINT) AS installment_count,
  CAST(_m.first_payment_amount AS DOUBLE) AS first_payment_amount,
  CAST(_m.payment_frequency AS TEXT) AS payment_frequency,
  CAST(_m.purchase_context AS TEXT) AS purchase_context,
  CAST(_m.checkout_speed AS TEXT) AS checkout_speed,
  CAST(_m.cart_abandonment_count AS BIGINT) AS cart_abandonment_count,
  CAST(_m.price_comparison_time AS BIGINT) AS price_comparison_time,
  CAST(_m.time_on_site_seconds AS BIGINT) AS time_on_site_seconds,
  CAST(_m.economic_stress_factor AS DOUBLE) AS economic_stress_factor,
  CAST(_m.will_default AS BOOLEAN) AS will_default,
  CAST(_m.days_to_first_missed_payment AS BIGINT) AS days_to_first_missed_payment,
  CAST(_m.customer_age_bracket AS TEXT) AS customer_age_bracket,
  CAST(_m.customer_tenure_days AS BIGINT) AS customer_tenure_days,
  CAST(_m.customer_income_bracket AS TEXT) AS customer_income_bracket,
  CAST(_m.customer_credit_score_range AS TEXT) AS customer_credit_score_range,
  CAST(_m.customer_verification_level AS TEXT) AS customer_verification_level,
  CAST(_m.customer_address_stability AS TEXT) AS customer_address_stability,
  CAST(_m.customer_state AS TEXT) AS customer_state,
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
  CAST(_m.payment_type AS TEXT) AS payment_type,
  CAST(_m.payment_credit_limit AS BIGINT) AS payment_credit_limit,
  CAST(_m.loaded_at AS TIMESTAMPTZ) AS loaded_at,
  CAST(_m.first_payment_cents AS BIGINT) AS first_payment_cents,
  CAST(_m.identity_scope AS TEXT) AS identity_scope,
  CAST(_m.attribute_fingerprint AS TEXT) AS attribute_fingerprint,
  CAST(_m.customer_attributes_changed AS BOOLEAN) AS customer_attributes_changed,
  CAST(_m.day_type AS TEXT) AS day_type,
  CAST(_m.holiday_name AS TEXT) AS holiday_name,
  CAST(_m.day_of_week AS BIGINT) AS day_of_week,
  CAST(_m.is_weekend AS BOOLEAN) AS is_weekend,
  CAST(_m.days_to_next_holiday AS BIGINT) AS days_to_next_holiday,
  CAST(_m.days_since_previous_holiday AS BIGINT) AS days_since_previous_holiday,
  CAST(_m.hour_of_day AS BIGINT) AS hour_of_day,
  CAST(_m.first_payment_ratio AS DOUBLE) AS first_payment_ratio,
  CAST(_m.time_on_site_to_comparison_ratio AS DOUBLE) AS time_on_site_to_comparison_ratio,
  CAST(_m.amount_to_credit_limit_ratio AS DOUBLE) AS amount_to_credit_limit_ratio
FROM (
WITH transactions AS (
  SELECT
    t.*
  FROM "bnpl_intermediate"."stg_bnpl_raw_transactions" AS t
  WHERE
    t.transaction_date BETWEEN $start_date AND $end_date
), customers AS (
  SELECT
    c.customer_key,
    c.transaction_date,
    c.batch_id,
    c.identity_scope,
    c.attribute_fingerprint,
    c.attributes_changed
  FROM "bnpl_intermediate"."stg_bnpl_extracted_customers" AS c
  WHERE
    c.transaction_date BETWEEN $start_date AND $end_date
), calendar AS (
  SELECT
    *
  FROM "bnpl_intermediate"."int_bnpl_calendar_days"
  WHERE
    calendar_date BETWEEN $start_date AND $end_date
)
SELECT
  t.*
  EXCLUDE (extra, record_id),
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
  CASE
    WHEN t.amount_cents <> 0
    THEN t.first_payment_cents / t.amount_cents
    ELSE NULL
  END AS first_payment_ratio,
  CASE
    WHEN t.price_comparison_time <> 0
    THEN t.time_on_site_seconds / t.price_comparison_time
    ELSE NULL
  END AS time_on_site_to_comparison_ratio,
  CASE
    WHEN (
      t.payment_credit_limit * 100
    ) <> 0
    THEN t.amount_cents / (
      t.payment_credit_limit * 100
    )
    ELSE NULL
  END AS amount_to_credit_limit_ratio
FROM transactions AS t
LEFT JOIN customers AS c
  ON c.customer_key = t.customer_key
  AND c.transaction_date = t.transaction_date
  AND c.batch_id = t.batch_id
LEFT JOIN calendar AS cal
  ON cal.calendar_date = t.transaction_date
) AS _m
WHERE
  _m.transaction_date BETWEEN $start_date AND $end_date;

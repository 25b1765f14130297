{#
  mart_bnpl_ml_features: per-transaction features, each known strictly before the transaction.

  Point in time. A feature of transaction T uses only:
  * T's own checkout record: what the checkout saw (amount, product, device, payment method,
    customer attributes, behaviour timings, simtom's risk_score as the provider's score);
  * the calendar, which is known in advance (day type, holidays, proximity);
  * the customer's earlier transactions, strictly before T's timestamp: windows end 1 second
    before it, so transactions in the same second are not "before" (timestamps are whole
    seconds). History stays inside the identity scope because customer_key is scoped: with
    batch-scoped ids (the real simtom) it is the same day's response, with stable ids every
    loaded day of the source;
  * the market: daily counts and amounts of the loaded days strictly before T's day (never T's
    own day, whose later transactions are in the future of T).

  risk_scenario: the scenario of an EARLIER transaction is treated as known (a provider labels a
  checkout's behaviour pattern once it is over), so the prior_*_share features use it. The
  current transaction's scenario is simtom's generating class and is excluded, as are the fields
  that reveal it outright: credit_utilization (present only for credit_stretched) and risk_level
  (a threshold of risk_score). purchase_context and checkout_speed are what a checkout observes
  and stay.

  Excluded on purpose: will_default and days_to_first_missed_payment (the outcomes; labels live
  only in mart_bnpl_ml_training_set), anything loaded after the transaction (loaded_at), and the
  customer's attributes_changed flag, which is computed over the whole day's batch and so would
  see transactions after T.

  History is bounded to the 365 days before T (a year of behaviour; the windows are counted in
  seconds of event time) so that a build's work and its reach are bounded too. Incremental by day
  with lookback_days=365: the run's days read the 366 days of history before them and the 28 days
  of market volume, so an incremental build computes the same values as a full refresh, and the
  runner rebuilds the 365 days after a rebuilt past day (whose windows include it); the daily run,
  whose day is the last loaded one, still replaces one day. Averages are exact integer sums
  divided once, so values never depend on summation order.
#}
{{ config(
    materialized='incremental',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    unique_key='transaction_key',
    lookback_days=365,
    description='ML features per transaction, each computed only from what was known strictly before the transaction timestamp: the checkout record, the calendar, the customer history in its identity scope and the market volume of earlier days. No labels.',
    grain='one row per transaction (transaction_key)',
) }}
{{ column('transaction_key', 'STRING', 'The transaction', nullable=False, references='mart_bnpl_transactions.transaction_key') }}
{{ column('customer_key', 'STRING', 'The customer (scoped identity)', nullable=False, references='mart_bnpl_customers.customer_key') }}
{{ columns_from('int_bnpl_transactions_enriched', only=['transaction_date', 'transaction_ts', 'identity_scope']) }}
{{ column('amount_cents', 'INT64', 'Purchase amount in integer cents (simtom: equals the product price)', nullable=False) }}
{{ column('installment_count', 'INT64', 'Instalments of the plan, paid bi-weekly (simtom: 4, or 6 from $100)', nullable=False) }}
{{ column('risk_score', 'FLOAT64', "The source's risk score at checkout, 0.11-0.81: a weighted sum of credit, verification, income, device, product and scenario components (contract 2.3)", nullable=False) }}
{{ column('purchase_context', 'STRING', "Checkout context: 'normal', 'impulse' or 'rushed'", nullable=False) }}
{{ column('checkout_speed', 'STRING', "'slow', 'normal', 'fast' or 'very_fast'", nullable=False) }}
{{ column('cart_abandonment_count', 'INT64', 'Carts abandoned before this checkout (0-3)', nullable=False) }}
{{ column('price_comparison_time', 'INT64', 'Seconds spent comparing prices before checkout', nullable=False) }}
{{ column('time_on_site_seconds', 'INT64', 'Seconds on the merchant site before checkout', nullable=False) }}
{{ column('customer_age_bracket', 'STRING', "Age bracket: '18-24', '25-34', '35-44', '45-54' or '55+'", nullable=False) }}
{{ column('customer_tenure_days', 'INT64', "Days since sign-up as the source reports it (simtom measures it against its server's today, contract 4.5)", nullable=False) }}
{{ column('customer_income_bracket', 'STRING', "Income bracket: '<25k', '25k-50k', '50k-75k', '75k-100k' or '100k+'", nullable=False) }}
{{ column('customer_credit_score_range', 'STRING', "'excellent', 'good', 'fair' or 'poor'", nullable=False) }}
{{ column('customer_verification_level', 'STRING', "'verified', 'partial' or 'unverified'", nullable=False) }}
{{ column('customer_address_stability', 'STRING', "'new', 'stable' or 'frequent_mover'", nullable=False) }}
{{ column('product_category', 'STRING', "'electronics', 'clothing', 'home', 'beauty' or 'sports'", nullable=False) }}
{{ column('product_subcategory', 'STRING', 'Subcategory within product_category', nullable=False) }}
{{ column('product_brand', 'STRING', 'Brand (independent of the category in simtom)', nullable=False) }}
{{ column('product_price', 'FLOAT64', 'Product price in USD (equals the amount)', nullable=False) }}
{{ column('product_bnpl_eligible', 'BOOL', 'Price >= $50 and category electronics, clothing or home', nullable=False) }}
{{ column('product_risk_category', 'STRING', "The product's risk class: 'low', 'medium' or 'high'", nullable=False) }}
{{ column('device_type', 'STRING', "'mobile', 'desktop' or 'tablet'", nullable=False) }}
{{ column('device_os', 'STRING', 'Operating system of the device', nullable=False) }}
{{ column('device_is_trusted', 'BOOL', 'The device was first seen more than 30 days earlier, as the source reports it', nullable=False) }}
{{ column('payment_provider', 'STRING', "'affirm', 'klarna', 'afterpay' or 'sezzle'", nullable=False) }}
{{ column('payment_credit_limit', 'INT64', 'Credit limit of the payment method in USD', nullable=False) }}
{{ columns_from('int_bnpl_transactions_enriched', only=['day_type', 'holiday_name', 'day_of_week', 'is_weekend', 'days_to_next_holiday', 'days_since_previous_holiday', 'hour_of_day']) }}
{{ column('prior_txn_count_7d', 'INT64', "The customer's transactions in the 7 days (604,800 s) before transaction_ts, excluding it and its second", nullable=False) }}
{{ column('prior_txn_count_28d', 'INT64', "The customer's transactions in the 28 days (2,419,200 s) before transaction_ts, excluding it and its second", nullable=False) }}
{{ column('prior_txn_count_365d', 'INT64', "The customer's transactions in the 365 days before transaction_ts, excluding it and its second", nullable=False) }}
{{ column('prior_amount_cents_7d', 'INT64', "The customer's spend in cents in the 7 days before transaction_ts", nullable=False) }}
{{ column('prior_amount_cents_28d', 'INT64', "The customer's spend in cents in the 28 days before transaction_ts", nullable=False) }}
{{ column('prior_amount_cents_365d', 'INT64', "The customer's spend in integer cents in the 365 days before transaction_ts", nullable=False) }}
{{ column('seconds_since_previous_txn', 'INT64', "Seconds since the customer's latest earlier transaction within 365 days; NULL when there is none") }}
{{ column('prior_impulse_share', 'FLOAT64', "Share of the customer's transactions in the 365 days before with risk_scenario 'impulse_purchase' (known once those checkouts ended); NULL without one") }}
{{ column('prior_high_risk_share', 'FLOAT64', "Share of the customer's transactions in the 365 days before with risk_scenario 'high_risk_behavior'; NULL without one") }}
{{ column('prior_avg_risk_score', 'FLOAT64', "Mean risk_score of the customer's transactions in the 365 days before (to 1e-6); NULL without one") }}
{{ column('is_new_device', 'BOOL', 'The customer has no transaction on this device_id in the 365 days before', nullable=False) }}
{{ column('is_new_payment_method', 'BOOL', 'The customer has no transaction with this payment_method_id in the 365 days before', nullable=False) }}
{{ column('market_txn_count_prev_day', 'INT64', 'Transactions loaded for the day before transaction_date; NULL when that day is not loaded') }}
{{ column('market_avg_daily_txn_7d', 'FLOAT64', 'Mean daily transactions over the loaded days among the 7 days before transaction_date; NULL when none is loaded') }}
{{ column('market_avg_daily_txn_28d', 'FLOAT64', 'Mean daily transactions over the loaded days among the 28 days before transaction_date; NULL when none is loaded') }}
{{ column('market_volume_trend', 'FLOAT64', 'market_avg_daily_txn_7d / market_avg_daily_txn_28d: above 1 when the last week ran busier than the last four') }}
{{ column('market_avg_amount_cents_28d', 'FLOAT64', 'Mean transaction amount in cents over the 28 days before transaction_date; NULL when none is loaded') }}
{{ column('product_device_risk', 'STRING', "product_risk_category and device trust combined, e.g. 'high/untrusted'", nullable=False) }}
{{ column('category_risk', 'STRING', "product_category and product_risk_category combined, e.g. 'electronics/high'", nullable=False) }}
{{ column('device_platform', 'STRING', "device_type and device_os combined, e.g. 'mobile/Android'", nullable=False) }}
{{ column('high_risk_product_on_untrusted_device', 'BOOL', "product_risk_category is 'high' and the device is not trusted", nullable=False) }}
{{ columns_from('int_bnpl_transactions_enriched', only=['first_payment_ratio', 'amount_to_credit_limit_ratio', 'time_on_site_to_comparison_ratio']) }}
{{ column('amount_to_prior_avg_ratio', 'FLOAT64', "amount_cents / the customer's mean amount over the 365 days before; NULL without history") }}
{{ column('exposure_28d_to_credit_limit_ratio', 'FLOAT64', '(prior_amount_cents_28d + amount_cents) / payment_credit_limit in cents: recent spend on the account against its limit; NULL when the limit is 0') }}
{{ column('amount_to_market_avg_ratio', 'FLOAT64', 'amount_cents / market_avg_amount_cents_28d; NULL when no earlier day is loaded') }}

WITH run_customers AS (
  SELECT DISTINCT e.customer_key
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN @start_date AND @end_date
),

history AS (
  -- the transactions of the customers active in the run's days, from 366 days before its first
  -- day to its last: the rows outside the run's days only feed the windows
  SELECT
    e.transaction_key,
    e.customer_key,
    e.device_id,
    e.payment_method_id,
    e.amount_cents,
    CAST(ROUND(e.risk_score * 1000000) AS INT64) AS risk_score_micros,
    IF(e.risk_scenario = 'impulse_purchase', 1, 0) AS is_impulse,
    IF(e.risk_scenario = 'high_risk_behavior', 1, 0) AS is_high_risk,
    DATETIME_DIFF(e.transaction_ts, DATETIME '1970-01-01 00:00:00', SECOND) AS ts_seconds
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL 366 DAY) AND @end_date
    AND e.customer_key IN (SELECT r.customer_key FROM run_customers AS r)
),

customer_windows AS (
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
      PARTITION BY h.customer_key, h.device_id ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_device_txn_count,
    COUNT(*) OVER (
      PARTITION BY h.customer_key, h.payment_method_id ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ) AS prior_payment_method_txn_count
  FROM history AS h
  WINDOW
    before_365d AS (
      PARTITION BY h.customer_key ORDER BY h.ts_seconds
      RANGE BETWEEN 31536000 PRECEDING AND 1 PRECEDING
    ),
    before_7d AS (
      PARTITION BY h.customer_key ORDER BY h.ts_seconds
      RANGE BETWEEN 604800 PRECEDING AND 1 PRECEDING
    ),
    before_28d AS (
      PARTITION BY h.customer_key ORDER BY h.ts_seconds
      RANGE BETWEEN 2419200 PRECEDING AND 1 PRECEDING
    )
),

market_days AS (
  SELECT
    e.transaction_date,
    COUNT(*) AS txn_count,
    SUM(e.amount_cents) AS amount_cents
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN DATE_SUB(@start_date, INTERVAL 28 DAY) AND @end_date
  GROUP BY e.transaction_date
),

run_days AS (
  SELECT DISTINCT e.transaction_date
  FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
  WHERE e.transaction_date BETWEEN @start_date AND @end_date
),

market AS (
  -- the loaded days strictly before each run day: never the day itself
  SELECT
    d.transaction_date,
    SUM(IF(m.transaction_date = DATE_SUB(d.transaction_date, INTERVAL 1 DAY), m.txn_count, NULL)) AS txn_count_prev_day,
    SUM(IF(m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL 7 DAY), m.txn_count, NULL)) AS txn_count_7d,
    COUNTIF(m.transaction_date >= DATE_SUB(d.transaction_date, INTERVAL 7 DAY)) AS loaded_days_7d,
    SUM(m.txn_count) AS txn_count_28d,
    SUM(m.amount_cents) AS amount_cents_28d,
    COUNT(m.transaction_date) AS loaded_days_28d
  FROM run_days AS d
  LEFT JOIN market_days AS m
    ON m.transaction_date BETWEEN DATE_SUB(d.transaction_date, INTERVAL 28 DAY)
    AND DATE_SUB(d.transaction_date, INTERVAL 1 DAY)
  GROUP BY d.transaction_date
),

market_features AS (
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
FROM {{ ref('int_bnpl_transactions_enriched') }} AS e
INNER JOIN customer_windows AS w
  ON w.transaction_key = e.transaction_key
LEFT JOIN market_features AS mf
  ON mf.transaction_date = e.transaction_date
WHERE e.transaction_date BETWEEN @start_date AND @end_date

{#
  mart_bnpl_customers: the published customer dimension.

  Keys: customer_key is unique and is what mart_bnpl_transactions.customer_key references.
  Incremental like int_bnpl_customer_profiles: the keys whose profile overlaps the run's days,
  plus the keys whose previous row here (this) did, are re-read from the profiles; a key that no
  longer has a profile disappears.
#}
{{ config(
    materialized='incremental',
    unique_key='customer_key',
    active_between=['first_seen_date', 'last_seen_date'],
    cluster_by=['customer_key'],
    description='Published customers: one row per customer key with attributes, lifetime behaviour, exact spend, a default rate for analytics, and attribute-drift flags.',
    grain='one row per customer_key',
) }}
{{ columns_from('int_bnpl_customer_profiles', exclude=['total_amount_cents', 'avg_amount_cents', 'max_amount_cents', 'default_count']) }}
{{ column('total_amount_cents', 'INT64', 'Lifetime spend in integer cents (exact)', nullable=False) }}
{{ column('total_amount', 'NUMERIC', 'Lifetime spend in USD, exact', nullable=False) }}
{{ column('avg_amount', 'NUMERIC', 'Mean transaction amount in USD, rounded to the cent', nullable=False) }}
{{ column('max_amount', 'NUMERIC', 'Largest transaction amount in USD', nullable=False) }}
{{ column('default_count', 'INT64', 'Transactions that defaulted (outcome: analytics only)', nullable=False) }}
{{ column('default_rate', 'FLOAT64', 'default_count / transaction_count (outcome: analytics only)', nullable=False) }}
{{ column('is_repeat_customer', 'BOOL', 'More than one transaction under this key', nullable=False) }}

WITH touched AS (
  SELECT p.customer_key
  FROM {{ ref('int_bnpl_customer_profiles') }} AS p
  WHERE p.first_seen_date <= @end_date
    AND p.last_seen_date >= @start_date
  UNION DISTINCT
  SELECT previous.customer_key
  FROM {{ this }} AS previous
  WHERE previous.first_seen_date <= @end_date
    AND previous.last_seen_date >= @start_date
)

SELECT
  p.* EXCEPT (total_amount_cents, avg_amount_cents, max_amount_cents, default_count),
  p.total_amount_cents,
  CAST(p.total_amount_cents AS NUMERIC) * NUMERIC '0.01' AS total_amount,
  CAST(ROUND(p.avg_amount_cents) AS NUMERIC) * NUMERIC '0.01' AS avg_amount,
  CAST(p.max_amount_cents AS NUMERIC) * NUMERIC '0.01' AS max_amount,
  p.default_count,
  SAFE_DIVIDE(p.default_count, p.transaction_count) AS default_rate,
  p.transaction_count > 1 AS is_repeat_customer
FROM {{ ref('int_bnpl_customer_profiles') }} AS p
WHERE p.customer_key IN (SELECT touched.customer_key FROM touched)

{#
  mart_bnpl_ml_training_set: the features of mart_bnpl_ml_features with their labels, for the
  transactions whose label has matured by the as-of date, and a time-based split.

  As-of date: the run's @end_date, a bound parameter. `bnpl build` builds every loaded day, so the
  published table is the training set as of the last loaded day; bnpl.features.training_frame
  (as_of=D) runs this same query with @end_date = D. "As of D" means at the end of day D: what
  happened before D + 1 day 00:00:00 (naive event time) is known, nothing later is read.

  Label maturity: simtom's outcomes are known only after the instalment term. The last
  instalment falls due 14 days x installment_count after the purchase (bi-weekly schedule; a
  first missed payment, when there is one, falls on or before it), so a row is included only
  when label_matures_ts = transaction_ts + 14 days x installment_count falls on or before the
  as-of day (label_matures_ts < D + 1 day 00:00:00).
  Near the as-of date only 4-instalment purchases (56 days) have matured, 6-instalment ones need
  84 days: the last four weeks of included days hold short terms only (simtom draws the default
  independently of the term, so the label rate is not biased by it, but the mix is).

  Split, by transaction_date, over the days from the first included day to the last one
  (n days): the first 70 % of the days are train, the next 15 % validation, the last 15 % test
  (cut points floor(0.70 n) and floor(0.85 n) days after the first day). A row's split depends
  only on the as-of date and the loaded days, never on its label or its features. Every
  transaction of a day is in the same split, so no day is on both sides of a cut.

  Features and labels meet only here; the lineage and mutation tests in tests/features prove
  that no feature column is computed from a label.
#}
{{ config(
    materialized='table',
    partition_by='transaction_date',
    cluster_by=['customer_key'],
    unique_key='transaction_key',
    description='Training set as of the run end date (@end_date): every transaction whose label has matured on or before that day, with its point-in-time features, the labels will_default and days_to_first_missed_payment, when the label matured, and a time-based train/validation/test split.',
    grain='one row per transaction (transaction_key) whose label matured on or before @end_date',
) }}
{{ columns_from('mart_bnpl_ml_features') }}
{{ column('will_default', 'BOOL', 'Label: the customer misses a payment on this purchase (simtom outcome, final once the term has ended)', nullable=False) }}
{{ column('days_to_first_missed_payment', 'INT64', 'Label: days from purchase to the first missed instalment (14 x k); NULL when will_default is false') }}
{{ column('label_matures_ts', 'DATETIME', 'transaction_ts + 14 days x installment_count: when the last instalment falls due and the label is final', nullable=False) }}
{{ column('as_of_date', 'DATE', 'The as-of date (@end_date): the set holds what was known at the end of this day', nullable=False) }}
{{ column('split', 'STRING', "'train', 'validation' or 'test' by transaction_date: the first 70 % of the included days, the next 15 %, the last 15 %", nullable=False) }}

WITH matured AS (
  SELECT
    f.*,
    t.will_default,
    t.days_to_first_missed_payment,
    DATETIME_ADD(f.transaction_ts, INTERVAL 14 * f.installment_count DAY) AS label_matures_ts
  FROM {{ ref('mart_bnpl_ml_features') }} AS f
  INNER JOIN {{ ref('int_bnpl_transactions_enriched') }} AS t
    ON t.transaction_key = f.transaction_key
    AND t.transaction_date = f.transaction_date
  WHERE f.transaction_date <= @end_date
    AND t.transaction_date <= @end_date
    AND DATETIME_ADD(f.transaction_ts, INTERVAL 14 * f.installment_count DAY)
      < CAST(DATE_ADD(@end_date, INTERVAL 1 DAY) AS DATETIME)
),

span AS (
  SELECT
    MIN(m.transaction_date) AS first_day,
    DATE_DIFF(MAX(m.transaction_date), MIN(m.transaction_date), DAY) + 1 AS days
  FROM matured AS m
),

cuts AS (
  SELECT
    DATE_ADD(s.first_day, INTERVAL CAST(FLOOR(70 * s.days / 100) AS INT64) DAY) AS validation_from,
    DATE_ADD(s.first_day, INTERVAL CAST(FLOOR(85 * s.days / 100) AS INT64) DAY) AS test_from
  FROM span AS s
)

SELECT
  m.*,
  @end_date AS as_of_date,
  CASE
    WHEN m.transaction_date >= c.test_from THEN 'test'
    WHEN m.transaction_date >= c.validation_from THEN 'validation'
    ELSE 'train'
  END AS split
FROM matured AS m
CROSS JOIN cuts AS c

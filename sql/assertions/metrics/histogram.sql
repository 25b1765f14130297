-- Fine-grained histogram of one feature per day; PSI merges the fine bins into quantile bins.
-- amount: $5 bins; risk_score: its 0.01 grid; product_category: one bin per category.
SELECT
  transaction_date AS day,
{% if feature == 'amount' %}
  CAST(CAST(FLOOR(amount / 5) AS INT64) AS STRING) AS bin,
{% elif feature == 'risk_score' %}
  CAST(CAST(ROUND(risk_score * 100) AS INT64) AS STRING) AS bin,
{% elif feature == 'product_category' %}
  product_category AS bin,
{% endif %}
  COUNT(*) AS n
FROM {{ relation }}
WHERE transaction_date BETWEEN @window_start AND @end_date
GROUP BY 1, 2

-- Columns of {{ relation }} with values outside their [min, max] parameters (nulls ignored).
{% for column in columns %}
SELECT
  '{{ column }}' AS column_name,
  COUNT(*) AS occurrences,
  MIN(CAST({{ column }} AS FLOAT64)) AS lowest,
  MAX(CAST({{ column }} AS FLOAT64)) AS highest
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND ({{ column }} < @min_{{ column }} OR {{ column }} > @max_{{ column }})
HAVING COUNT(*) > 0
{% if not loop.last %}
UNION ALL
{% endif %}
{% endfor %}

-- Values outside their domain (bound as the accepted_<column> parameter) or null, per column of {{ relation }}.
{% for column in columns %}
SELECT '{{ column }}' AS column_name, CAST({{ column }} AS STRING) AS value, COUNT(*) AS occurrences
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND ({{ column }} IS NULL OR {{ column }} NOT IN UNNEST(@accepted_{{ column }}))
GROUP BY 1, 2
{% if not loop.last %}
UNION ALL
{% endif %}
{% endfor %}

-- Values outside their domain (bound as the accepted_<column> parameter){% if not (allow_null | default(false)) %} or null{% endif %}, per column of {{ relation }}{% if day_column %} within the range{% endif %}.
{% for column in columns %}
SELECT '{{ column }}' AS column_name, CAST({{ column }} AS STRING) AS value, COUNT(*) AS occurrences
FROM {{ relation }}
WHERE {% if day_column %}{{ day_column }} BETWEEN @start_date AND @end_date
  AND {% endif %}({% if not (allow_null | default(false)) %}{{ column }} IS NULL OR {% endif %}{{ column }} NOT IN UNNEST(@accepted_{{ column }}))
GROUP BY 1, 2
{% if not loop.last %}
UNION ALL
{% endif %}
{% endfor %}

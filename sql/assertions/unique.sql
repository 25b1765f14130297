-- Keys ({{ columns | join(', ') }}) that occur more than once in {{ relation }}{% if day_column %} within the range{% endif %}.
SELECT {{ columns | join(', ') }}, COUNT(*) AS occurrences
FROM {{ relation }}
{% if day_column %}
WHERE {{ day_column }} BETWEEN @start_date AND @end_date
{% endif %}
GROUP BY {{ columns | join(', ') }}
HAVING COUNT(*) > 1

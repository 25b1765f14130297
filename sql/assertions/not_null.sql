-- Rows of {{ relation }}{% if day_column %} within the range{% endif %} where a required key column is null.
SELECT {{ columns | join(', ') }}
FROM {{ relation }}
WHERE {% if day_column %}{{ day_column }} BETWEEN @start_date AND @end_date AND {% endif %}({% for column in columns %}{{ column }} IS NULL{{ " OR " if not loop.last }}{% endfor %})

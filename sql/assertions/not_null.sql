-- Rows of {{ relation }} within the range where a required key column is null.
SELECT {{ columns | join(', ') }}
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND ({% for column in columns %}{{ column }} IS NULL{{ " OR " if not loop.last }}{% endfor %})

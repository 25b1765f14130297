-- Keys ({{ columns | join(', ') }}) that occur more than once in {{ relation }} within the range.
SELECT {{ columns | join(', ') }}, COUNT(*) AS occurrences
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
GROUP BY {{ columns | join(', ') }}
HAVING COUNT(*) > 1

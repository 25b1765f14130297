-- One count column per day of {{ relation }} over the checked range.
SELECT transaction_date AS day, {{ column }} AS n
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date

-- Wraps an assertion (rows that violate it): the number of violating rows and a few examples.
SELECT COUNT(*) OVER () AS dq_violations, violation.*
FROM (
{% include assertion ~ ".sql" %}
) AS violation
LIMIT {{ sample_size }}

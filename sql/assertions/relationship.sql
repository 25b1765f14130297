-- Rows of {{ child }} whose {{ column }} has no row in {{ parent }}
-- ({% if same_day %}on the same day: the parent is scoped by batch{% else %}any day{% endif %}); a NULL key is not checked.
SELECT child.{{ column }}{% if day_column %}, child.{{ day_column }}{% endif %}, COUNT(*) AS occurrences
FROM {{ child }} AS child
LEFT JOIN (
  SELECT DISTINCT {{ parent_column }} AS parent_key{% if same_day %}, transaction_date{% endif %}

  FROM {{ parent }}
{% if parent_partitioned %}
  WHERE transaction_date BETWEEN @start_date AND @end_date
{% endif %}
) AS parent
  ON parent.parent_key = child.{{ column }}
{% if same_day %}
  AND parent.transaction_date = child.{{ day_column }}
{% endif %}
WHERE {% if day_column %}child.{{ day_column }} BETWEEN @start_date AND @end_date
  AND {% endif %}child.{{ column }} IS NOT NULL
  AND parent.parent_key IS NULL
GROUP BY {{ "1, 2" if day_column else "1" }}

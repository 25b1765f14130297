-- Every row of one table; a table that requires a partition filter gets one that keeps every
-- partition. Identifiers arrive quoted.
SELECT * FROM {{ table }}
{% if partition_field %}
WHERE {{ partition_field }} >= DATE '0001-01-01'
{% endif %}

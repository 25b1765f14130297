-- Row count and an order-independent md5 of the given columns of every row (duplicated rows
-- change it). Identifiers arrive quoted; there are no values.
SELECT
  count(*) AS n,
  coalesce(md5(string_agg(h, ',' ORDER BY h)), '') AS checksum
FROM (
  SELECT md5(to_json(struct_pack(
{% for column in columns %}
    {{ column }} := {{ column }}{{ ',' if not loop.last }}
{% endfor %}
  ))) AS h
  FROM {{ table }}
)

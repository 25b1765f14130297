CREATE TABLE IF NOT EXISTS {{ table }} (
{% for column in columns %}
  {{ column.name }} {{ column.type }}{{ '' if column.nullable else ' NOT NULL' }}{{ ',' if not loop.last }}
{% endfor %}
)

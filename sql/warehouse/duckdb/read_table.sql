-- Every row of one table (a quoted, schema-qualified name).
SELECT * FROM {{ table }}

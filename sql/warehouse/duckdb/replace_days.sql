{#- One transaction: delete the days from every raw day table and the ledger, insert the staged
    Parquet files. The days and the file paths are values: bound through the session variable
    bnpl_load (SET VARIABLE with parameters), never written here. -#}
BEGIN TRANSACTION;
{% for table in tables %}
DELETE FROM {{ table.target }} WHERE list_contains(getvariable('bnpl_load').days, transaction_date);
{% if table.file %}
INSERT INTO {{ table.target }} BY NAME SELECT * FROM read_parquet(getvariable('bnpl_load').{{ table.file }});
{% endif %}
{% endfor %}
COMMIT

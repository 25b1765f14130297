{#- One transaction: delete the days from every raw day table and the ledger, insert the staged
    Parquet files. The days and the file paths are values: bound through the session variable
    bnpl_load (SET VARIABLE with parameters), never written here. A live event's dead letter
    (a quarantine row with an event_id) is the live path's, not the day's: it is kept. -#}
BEGIN TRANSACTION;
{% for table in tables %}
DELETE FROM {{ table.target }} WHERE list_contains(getvariable('bnpl_load').days, transaction_date){{ ' AND event_id IS NULL' if table.keeps_dead_letters }};
{% if table.file %}
INSERT INTO {{ table.target }} BY NAME SELECT * FROM read_parquet(getvariable('bnpl_load').{{ table.file }});
{% endif %}
{% endfor %}
COMMIT

{# One transaction: delete the bound @day from every raw day table, insert the staged rows,
   replace the day's ledger row (values bound as @ledger_<column>). Any failing statement rolls
   everything back and the script fails with its message. Identifiers arrive quoted. A live
   event's dead letter (a quarantine row with an event_id) is kept. A Jinja comment: the script
   starts with BEGIN. #}
BEGIN
BEGIN TRANSACTION;
{% for table in tables %}
DELETE FROM {{ table.target }} WHERE transaction_date = @day{{ ' AND event_id IS NULL' if table.keeps_dead_letters }};
{% if table.staged %}
INSERT INTO {{ table.target }} ({{ table.columns | join(', ') }}) SELECT {{ table.columns | join(', ') }} FROM {{ table.staged }};
{% endif %}
{% endfor %}
DELETE FROM {{ ledger.target }} WHERE transaction_date = @day;
INSERT INTO {{ ledger.target }} ({{ ledger.columns | join(', ') }}) VALUES ({% for column in ledger.names %}@ledger_{{ column }}{{ ', ' if not loop.last }}{% endfor %});
COMMIT TRANSACTION;
EXCEPTION WHEN ERROR THEN
ROLLBACK TRANSACTION;
RAISE USING MESSAGE = @@error.message;
END;

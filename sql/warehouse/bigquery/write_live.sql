{# One live micro-batch, idempotent on event_id (bnpl.warehouse.live), as one script job. The
   rows' table is the batch's (live_transactions keyed on event_id; scores on request_id, role).
   1. The live rows: a keyed MERGE on event_id (one atomic statement).
   2. One transaction: an event now dead-lettered loses any live row; every event of the batch
      loses its dead letter on the batch's days; the new dead letters are inserted. (The
      quarantine requires a partition filter, which a MERGE cannot carry, so it is a keyed
      replace.)
   3. The consumer's offsets: a keyed MERGE.
   The MERGEs stand outside the transaction: the emulator refuses MERGE inside one, and each is
   atomic and idempotent on its own. A failure between the steps leaves an event in both tables
   at worst, never in neither (rows are written before dead letters are removed), and the batch
   is not acknowledged, so it is written again. The days (@days) and event ids (@event_ids,
   @dead_ids) are bound. Identifiers arrive quoted. A Jinja comment: the script starts with the
   first statement. #}
{% macro merge(table) %}
MERGE {{ table.target }} AS t
USING {{ table.staged }} AS s
ON {% for key in table.key_columns %}t.{{ key }} = s.{{ key }}{{ ' AND ' if not loop.last }}{% endfor %}{{ ' AND t.transaction_date IN UNNEST(@days)' if table.partitioned }}

WHEN MATCHED THEN UPDATE SET {% for column in table.columns %}{{ column }} = s.{{ column }}{{ ', ' if not loop.last }}{% endfor %}

WHEN NOT MATCHED THEN INSERT ({{ table.columns | join(', ') }}) VALUES ({% for column in table.columns %}s.{{ column }}{{ ', ' if not loop.last }}{% endfor %});
{% endmacro %}
{% if live.staged %}
{{ merge(live) }}
{% endif %}
BEGIN
BEGIN TRANSACTION;
DELETE FROM {{ live.target }} WHERE transaction_date IN UNNEST(@days) AND {{ live.id }} IN UNNEST(@dead_ids);
DELETE FROM {{ quarantine.target }} WHERE transaction_date IN UNNEST(@days) AND event_id IN UNNEST(@event_ids);
{% if quarantine.staged %}
INSERT INTO {{ quarantine.target }} ({{ quarantine.columns | join(', ') }}) SELECT {{ quarantine.columns | join(', ') }} FROM {{ quarantine.staged }};
{% endif %}
COMMIT TRANSACTION;
EXCEPTION WHEN ERROR THEN
ROLLBACK TRANSACTION;
RAISE USING MESSAGE = @@error.message;
END;
{% if offsets.staged %}
{{ merge(offsets) }}
{% endif %}

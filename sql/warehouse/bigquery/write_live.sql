{# One live micro-batch, one transaction (bnpl.warehouse.live), idempotent on event_id: an event
   now valid loses any dead letter, an event now dead-lettered loses any live row; then keyed
   MERGEs write the live rows, the dead letters and the consumer's offsets from their staging
   tables. The batch's days (@days: every filter on a partitioned table names them, so the
   partition enforcement accepts it) and event ids (@row_ids, @dead_ids) are bound. Identifiers
   arrive quoted. A Jinja comment: the script starts with BEGIN. #}
BEGIN
BEGIN TRANSACTION;
DELETE FROM {{ live.target }} WHERE transaction_date IN UNNEST(@days) AND event_id IN UNNEST(@dead_ids);
DELETE FROM {{ quarantine.target }} WHERE transaction_date IN UNNEST(@days) AND event_id IN UNNEST(@row_ids);
{% for table in (live, quarantine, offsets) if table.staged %}
MERGE {{ table.target }} AS t
USING {{ table.staged }} AS s
ON {% for key in table.keys %}t.{{ key }} = s.{{ key }}{{ ' AND ' if not loop.last }}{% endfor %}{{ ' AND t.transaction_date IN UNNEST(@days)' if table.partitioned }}
WHEN MATCHED THEN UPDATE SET {% for column in table.columns %}{{ column }} = s.{{ column }}{{ ', ' if not loop.last }}{% endfor %}

WHEN NOT MATCHED THEN INSERT ({{ table.columns | join(', ') }}) VALUES ({% for column in table.columns %}s.{{ column }}{{ ', ' if not loop.last }}{% endfor %});
{% endfor %}
COMMIT TRANSACTION;
EXCEPTION WHEN ERROR THEN
ROLLBACK TRANSACTION;
RAISE USING MESSAGE = @@error.message;
END;

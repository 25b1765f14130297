{#- One live micro-batch, one transaction (bnpl.warehouse.live): every event of the batch loses
    whatever row it had (live row or dead letter) on the batch's days and gets its new one; the
    consumer's offsets are replaced. The rows' table and its event id column (live_transactions'
    event_id, scores' request_id) are the batch's. Values (days, event ids, file paths, the consumer) are bound
    through the session variable bnpl_load, never written here. -#}
BEGIN TRANSACTION;
DELETE FROM {{ live }}
WHERE list_contains(getvariable('bnpl_load').days, transaction_date)
  AND {{ live_id }} IN (SELECT unnest(getvariable('bnpl_load').event_ids));
DELETE FROM {{ quarantine }}
WHERE list_contains(getvariable('bnpl_load').days, transaction_date)
  AND event_id IN (SELECT unnest(getvariable('bnpl_load').event_ids));
{% if rows %}
INSERT INTO {{ live }} BY NAME SELECT * FROM read_parquet(getvariable('bnpl_load').rows);
{% endif %}
{% if dead_letters %}
INSERT INTO {{ quarantine }} BY NAME SELECT * FROM read_parquet(getvariable('bnpl_load').dead_letters);
{% endif %}
{% if offsets %}
DELETE FROM {{ offsets_table }}
WHERE consumer_group = getvariable('bnpl_load').consumer_group
  AND consumer = getvariable('bnpl_load').consumer
  AND list_contains(getvariable('bnpl_load').partitions, log_partition);
INSERT INTO {{ offsets_table }} BY NAME SELECT * FROM read_parquet(getvariable('bnpl_load').offsets);
{% endif %}
COMMIT

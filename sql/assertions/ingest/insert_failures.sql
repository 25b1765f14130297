-- One row per day a run could not load; every value is a bound parameter. Append-only.
INSERT INTO {{ source('audit', 'ingest_failures') }} (
  transaction_date, batch_id, source_url, request_body, error_type, error, failed_at,
  flow_run_id, bnpl_version
)
VALUES
{% for i in range(rows) %}
  (
    @transaction_date_{{ i }}, @batch_id_{{ i }}, @source_url, @request_body_{{ i }},
    @error_type_{{ i }}, @error_{{ i }}, @failed_at, NULLIF(@flow_run_id, ''), @bnpl_version
  ){{ "," if not loop.last }}
{% endfor %}

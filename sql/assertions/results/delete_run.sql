-- Remove a run's earlier results, so that writing a run's results is idempotent.
DELETE FROM {{ source('audit', 'dq_results') }}
WHERE run_id = @run_id AND logical_date = @logical_date

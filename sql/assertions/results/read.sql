-- Results of one run, or of the newest run when @run_id is empty.
SELECT *
FROM {{ source('audit', 'dq_results') }}
WHERE run_id = COALESCE(
  NULLIF(@run_id, ''),
  (SELECT run_id FROM {{ source('audit', 'dq_results') }} ORDER BY checked_at DESC, run_id LIMIT 1)
)
ORDER BY check_name

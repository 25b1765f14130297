-- Every gate run: its range, when it ran, and whether an error-level check failed (blocked).
SELECT
  run_id,
  range_start,
  range_end,
  MAX(checked_at) AS checked_at,
  LOGICAL_OR(severity = 'error' AND status IN ('fail', 'error')) AS blocked
FROM {{ source('audit', 'dq_results') }}
GROUP BY run_id, range_start, range_end

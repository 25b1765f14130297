-- One row per check result of a run; every value is a bound parameter.
INSERT INTO {{ source('audit', 'dq_results') }} (
  run_id, logical_date, range_start, range_end, check_name, category, model, severity, status,
  observed_value, threshold, details, checked_at
)
VALUES
{% for i in range(rows) %}
  (
    @run_id, @logical_date, @range_start, @range_end, @check_name_{{ i }}, @category_{{ i }},
    @model_{{ i }}, @severity_{{ i }}, @status_{{ i }},
    SAFE_CAST(NULLIF(@observed_value_{{ i }}, '') AS FLOAT64),
    SAFE_CAST(NULLIF(@threshold_{{ i }}, '') AS FLOAT64),
    @details_{{ i }}, @checked_at
  ){{ "," if not loop.last }}
{% endfor %}

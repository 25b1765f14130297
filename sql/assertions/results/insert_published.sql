-- One row per mart a passed gate published; every value is a bound parameter. Append-only.
INSERT INTO {{ source('audit', 'publish_log') }} (
  mart, run_id, logical_date, range_start, range_end, published_at, bnpl_version
)
VALUES
{% for i in range(rows) %}
  (
    @mart_{{ i }}, @run_id, @logical_date, @range_start, @range_end, @published_at, @bnpl_version
  ){{ "," if not loop.last }}
{% endfor %}

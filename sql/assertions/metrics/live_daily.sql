-- Per day of the checked range: the live path's rows ({{ 'dead letters: quarantine rows with an event id' if dead_letters else 'bnpl_raw.live_transactions' }}).
SELECT transaction_date AS day, COUNT(*) AS n
{% if dead_letters %}
FROM {{ source('raw', 'quarantine') }}
WHERE transaction_date BETWEEN @start_date AND @end_date AND event_id IS NOT NULL
{% else %}
FROM {{ source('raw', 'live_transactions') }}
WHERE transaction_date BETWEEN @start_date AND @end_date
{% endif %}
GROUP BY transaction_date

-- The newest publication of each mart.
SELECT mart, MAX(published_at) AS published_at
FROM {{ source('audit', 'publish_log') }}
GROUP BY mart
ORDER BY mart

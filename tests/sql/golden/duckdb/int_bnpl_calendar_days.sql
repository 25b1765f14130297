-- probe
SELECT
  *
FROM (
WITH days AS (
  SELECT
    calendar_date
  FROM UNNEST(CAST(GENERATE_SERIES($start_date, $end_date, INTERVAL '1' DAY) AS DATE[])) AS _t0(calendar_date)
), holidays AS (
  SELECT
    h.holiday_date,
    h.holiday_name
  FROM (
    SELECT
      CAST($holiday_date_0 AS DATE) AS holiday_date,
      CAST($holiday_name_0 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_1 AS DATE) AS holiday_date,
      CAST($holiday_name_1 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_2 AS DATE) AS holiday_date,
      CAST($holiday_name_2 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_3 AS DATE) AS holiday_date,
      CAST($holiday_name_3 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_4 AS DATE) AS holiday_date,
      CAST($holiday_name_4 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_5 AS DATE) AS holiday_date,
      CAST($holiday_name_5 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_6 AS DATE) AS holiday_date,
      CAST($holiday_name_6 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_7 AS DATE) AS holiday_date,
      CAST($holiday_name_7 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_8 AS DATE) AS holiday_date,
      CAST($holiday_name_8 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_9 AS DATE) AS holiday_date,
      CAST($holiday_name_9 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_10 AS DATE) AS holiday_date,
      CAST($holiday_name_10 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_11 AS DATE) AS holiday_date,
      CAST($holiday_name_11 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_12 AS DATE) AS holiday_date,
      CAST($holiday_name_12 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_13 AS DATE) AS holiday_date,
      CAST($holiday_name_13 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_14 AS DATE) AS holiday_date,
      CAST($holiday_name_14 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_15 AS DATE) AS holiday_date,
      CAST($holiday_name_15 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_16 AS DATE) AS holiday_date,
      CAST($holiday_name_16 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_17 AS DATE) AS holiday_date,
      CAST($holiday_name_17 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_18 AS DATE) AS holiday_date,
      CAST($holiday_name_18 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_19 AS DATE) AS holiday_date,
      CAST($holiday_name_19 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_20 AS DATE) AS holiday_date,
      CAST($holiday_name_20 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_21 AS DATE) AS holiday_date,
      CAST($holiday_name_21 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_22 AS DATE) AS holiday_date,
      CAST($holiday_name_22 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_23 AS DATE) AS holiday_date,
      CAST($holiday_name_23 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_24 AS DATE) AS holiday_date,
      CAST($holiday_name_24 AS TEXT) AS holiday_name
  ) AS h
)
SELECT
  d.calendar_date,
  (
    EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
  ) AS day_of_week,
  STRFTIME(CAST(d.calendar_date AS DATE), '%A') AS day_name,
  EXTRACT(DAY FROM d.calendar_date) AS day_of_month,
  EXTRACT(MONTH FROM d.calendar_date) AS month,
  EXTRACT(YEAR FROM d.calendar_date) AS year,
  (
    EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
  ) IN (1, 7) AS is_weekend,
  h.holiday_name,
  CASE
    WHEN NOT h.holiday_name IS NULL
    THEN 'holiday'
    WHEN (
      EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
    ) IN (1, 7)
    THEN 'weekend'
    ELSE 'weekday'
  END AS day_type,
  (
    SELECT
      MIN(DATE_DIFF('DAY', d.calendar_date, n.holiday_date))
    FROM holidays AS n
    WHERE
      n.holiday_date >= d.calendar_date
  ) AS days_to_next_holiday,
  (
    SELECT
      MIN(DATE_DIFF('DAY', p.holiday_date, d.calendar_date))
    FROM holidays AS p
    WHERE
      p.holiday_date <= d.calendar_date
  ) AS days_since_previous_holiday
FROM days AS d
LEFT JOIN holidays AS h
  ON h.holiday_date = d.calendar_date
) AS _m
WHERE
  _m.calendar_date BETWEEN $start_date AND $end_date
LIMIT 0;

-- replace_range bnpl_intermediate.int_bnpl_calendar_days
DELETE FROM "bnpl_intermediate"."int_bnpl_calendar_days"
WHERE
  calendar_date BETWEEN $start_date AND $end_date;

INSERT INTO "bnpl_intermediate"."int_bnpl_calendar_days" (
  calendar_date,
  day_of_week,
  day_name,
  day_of_month,
  month,
  year,
  is_weekend,
  holiday_name,
  day_type,
  days_to_next_holiday,
  days_since_previous_holiday
)
SELECT
  CAST(_m.calendar_date AS DATE) AS calendar_date,
  CAST(_m.day_of_week AS BIGINT) AS day_of_week,
  CAST(_m.day_name AS TEXT) AS day_name,
  CAST(_m.day_of_month AS BIGINT) AS day_of_month,
  CAST(_m.month AS BIGINT) AS month,
  CAST(_m.year AS BIGINT) AS year,
  CAST(_m.is_weekend AS BOOLEAN) AS is_weekend,
  CAST(_m.holiday_name AS TEXT) AS holiday_name,
  CAST(_m.day_type AS TEXT) AS day_type,
  CAST(_m.days_to_next_holiday AS BIGINT) AS days_to_next_holiday,
  CAST(_m.days_since_previous_holiday AS BIGINT) AS days_since_previous_holiday
FROM (
WITH days AS (
  SELECT
    calendar_date
  FROM UNNEST(CAST(GENERATE_SERIES($start_date, $end_date, INTERVAL '1' DAY) AS DATE[])) AS _t0(calendar_date)
), holidays AS (
  SELECT
    h.holiday_date,
    h.holiday_name
  FROM (
    SELECT
      CAST($holiday_date_0 AS DATE) AS holiday_date,
      CAST($holiday_name_0 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_1 AS DATE) AS holiday_date,
      CAST($holiday_name_1 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_2 AS DATE) AS holiday_date,
      CAST($holiday_name_2 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_3 AS DATE) AS holiday_date,
      CAST($holiday_name_3 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_4 AS DATE) AS holiday_date,
      CAST($holiday_name_4 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_5 AS DATE) AS holiday_date,
      CAST($holiday_name_5 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_6 AS DATE) AS holiday_date,
      CAST($holiday_name_6 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_7 AS DATE) AS holiday_date,
      CAST($holiday_name_7 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_8 AS DATE) AS holiday_date,
      CAST($holiday_name_8 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_9 AS DATE) AS holiday_date,
      CAST($holiday_name_9 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_10 AS DATE) AS holiday_date,
      CAST($holiday_name_10 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_11 AS DATE) AS holiday_date,
      CAST($holiday_name_11 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_12 AS DATE) AS holiday_date,
      CAST($holiday_name_12 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_13 AS DATE) AS holiday_date,
      CAST($holiday_name_13 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_14 AS DATE) AS holiday_date,
      CAST($holiday_name_14 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_15 AS DATE) AS holiday_date,
      CAST($holiday_name_15 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_16 AS DATE) AS holiday_date,
      CAST($holiday_name_16 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_17 AS DATE) AS holiday_date,
      CAST($holiday_name_17 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_18 AS DATE) AS holiday_date,
      CAST($holiday_name_18 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_19 AS DATE) AS holiday_date,
      CAST($holiday_name_19 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_20 AS DATE) AS holiday_date,
      CAST($holiday_name_20 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_21 AS DATE) AS holiday_date,
      CAST($holiday_name_21 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_22 AS DATE) AS holiday_date,
      CAST($holiday_name_22 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_23 AS DATE) AS holiday_date,
      CAST($holiday_name_23 AS TEXT) AS holiday_name
    UNION ALL
    SELECT
      CAST($holiday_date_24 AS DATE) AS holiday_date,
      CAST($holiday_name_24 AS TEXT) AS holiday_name
  ) AS h
)
SELECT
  d.calendar_date,
  (
    EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
  ) AS day_of_week,
  STRFTIME(CAST(d.calendar_date AS DATE), '%A') AS day_name,
  EXTRACT(DAY FROM d.calendar_date) AS day_of_month,
  EXTRACT(MONTH FROM d.calendar_date) AS month,
  EXTRACT(YEAR FROM d.calendar_date) AS year,
  (
    EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
  ) IN (1, 7) AS is_weekend,
  h.holiday_name,
  CASE
    WHEN NOT h.holiday_name IS NULL
    THEN 'holiday'
    WHEN (
      EXTRACT(DAYOFWEEK FROM d.calendar_date) + 1
    ) IN (1, 7)
    THEN 'weekend'
    ELSE 'weekday'
  END AS day_type,
  (
    SELECT
      MIN(DATE_DIFF('DAY', d.calendar_date, n.holiday_date))
    FROM holidays AS n
    WHERE
      n.holiday_date >= d.calendar_date
  ) AS days_to_next_holiday,
  (
    SELECT
      MIN(DATE_DIFF('DAY', p.holiday_date, d.calendar_date))
    FROM holidays AS p
    WHERE
      p.holiday_date <= d.calendar_date
  ) AS days_since_previous_holiday
FROM days AS d
LEFT JOIN holidays AS h
  ON h.holiday_date = d.calendar_date
) AS _m
WHERE
  _m.calendar_date BETWEEN $start_date AND $end_date;

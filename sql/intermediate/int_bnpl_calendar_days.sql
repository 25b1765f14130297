{#
  int_bnpl_calendar_days: bnpl's calendar for the built days.

  The holidays come from bnpl.calendar (the `holidays` package's US federal calendar plus Black
  Friday and Cyber Monday): the runner binds them as parameters through calendar_holidays(),
  covering the built days widened by 366 days on each side, so holiday proximity is known for
  every built day. Day type follows bnpl.calendar.day_type: a holiday wins over a weekend.
  day_of_week is BigQuery's convention on every warehouse: 1 = Sunday ... 7 = Saturday.
#}
{{ config(
    materialized='incremental',
    partition_by='calendar_date',
    unique_key='calendar_date',
    description="bnpl's calendar: day type (weekday, weekend, holiday), holiday name and holiday proximity for every built day, the single source of calendar features in SQL.",
    grain='one row per calendar day in the built range',
) }}
{{ column('calendar_date', 'DATE', 'The calendar day', nullable=False) }}
{{ column('day_of_week', 'INT64', '1 = Sunday, 2 = Monday ... 7 = Saturday (BigQuery EXTRACT(DAYOFWEEK))', nullable=False) }}
{{ column('day_name', 'STRING', 'English day name, e.g. Monday', nullable=False) }}
{{ column('day_of_month', 'INT64', '1-31', nullable=False) }}
{{ column('month', 'INT64', '1-12', nullable=False) }}
{{ column('year', 'INT64', 'Calendar year', nullable=False) }}
{{ column('is_weekend', 'BOOL', 'Saturday or Sunday', nullable=False) }}
{{ column('holiday_name', 'STRING', 'US federal holiday, Black Friday or Cyber Monday on this day; NULL otherwise') }}
{{ column('day_type', 'STRING', "'holiday' if holiday_name is set, else 'weekend' on Saturday and Sunday, else 'weekday'", nullable=False) }}
{{ column('days_to_next_holiday', 'INT64', 'Days until the next holiday (0 on a holiday)') }}
{{ column('days_since_previous_holiday', 'INT64', 'Days since the previous holiday (0 on a holiday)') }}

WITH days AS (
  SELECT calendar_date
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS calendar_date
),

holidays AS (
  SELECT h.holiday_date, h.holiday_name
  FROM {{ calendar_holidays() }} AS h
)

SELECT
  d.calendar_date,
  EXTRACT(DAYOFWEEK FROM d.calendar_date) AS day_of_week,
  FORMAT_DATE('%A', d.calendar_date) AS day_name,
  EXTRACT(DAY FROM d.calendar_date) AS day_of_month,
  EXTRACT(MONTH FROM d.calendar_date) AS month,
  EXTRACT(YEAR FROM d.calendar_date) AS year,
  EXTRACT(DAYOFWEEK FROM d.calendar_date) IN (1, 7) AS is_weekend,
  h.holiday_name,
  CASE
    WHEN h.holiday_name IS NOT NULL THEN 'holiday'
    WHEN EXTRACT(DAYOFWEEK FROM d.calendar_date) IN (1, 7) THEN 'weekend'
    ELSE 'weekday'
  END AS day_type,
  (
    SELECT MIN(DATE_DIFF(n.holiday_date, d.calendar_date, DAY))
    FROM holidays AS n
    WHERE n.holiday_date >= d.calendar_date
  ) AS days_to_next_holiday,
  (
    SELECT MIN(DATE_DIFF(d.calendar_date, p.holiday_date, DAY))
    FROM holidays AS p
    WHERE p.holiday_date <= d.calendar_date
  ) AS days_since_previous_holiday
FROM days AS d
LEFT JOIN holidays AS h
  ON h.holiday_date = d.calendar_date

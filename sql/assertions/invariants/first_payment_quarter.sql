-- Contract invariant 2: first_payment_amount == round(amount * 0.25, 2) with Python's binary
-- rounding, so when amount * 0.25 ends in a half cent either neighbouring cent is accepted.
SELECT transaction_key, transaction_date, amount, first_payment_amount
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND NOT (
    CAST(ROUND(first_payment_amount * 100) AS INT64)
      IN (CAST(FLOOR(amount_cents / 4) AS INT64), CAST(CEIL(amount_cents / 4) AS INT64))
    AND (
      MOD(amount_cents, 4) = 2
      OR CAST(ROUND(first_payment_amount * 100) AS INT64) = CAST(ROUND(amount_cents / 4) AS INT64)
    )
  )

-- Contract invariant 1: amount == product_price, and amount_cents is amount in cents.
SELECT transaction_key, transaction_date, amount, product_price, amount_cents
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND (
    ABS(amount - product_price) > 0.001
    OR amount_cents != CAST(ROUND(amount * 100) AS INT64)
  )

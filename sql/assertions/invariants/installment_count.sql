-- Contract invariant 3: 4 instalments below $100, 4 or 6 from $100.
SELECT transaction_key, transaction_date, amount, installment_count
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND NOT (
    (amount < 100 AND installment_count = 4)
    OR (amount >= 100 AND installment_count IN (4, 6))
  )

-- Contract invariant 5: days_to_first_missed_payment is null exactly when will_default is false;
-- otherwise it is 14 * k with 1 <= k <= installment_count.
SELECT transaction_key, transaction_date, will_default, days_to_first_missed_payment, installment_count
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND NOT (
    (
      will_default
      AND days_to_first_missed_payment IS NOT NULL
      AND MOD(days_to_first_missed_payment, 14) = 0
      AND days_to_first_missed_payment BETWEEN 14 AND 14 * installment_count
    )
    OR (NOT will_default AND days_to_first_missed_payment IS NULL)
  )

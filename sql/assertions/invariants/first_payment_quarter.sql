-- Contract invariant 2: first_payment_amount == round(amount * 0.25, 2), exactly as CPython
-- rounds the binary double (bnpl.contracts.python_quarter_cents, the same steps): with c the
-- amount in cents, c / 4 cents is a half-cent tie only when MOD(c, 4) = 2; the double nearest
-- c / 100 then lies above, below or on it, which decides the direction (on it: half to even).
-- The sign of amount * 100 - c is exact by Dekker's error-free product (@quarter_split = 2^27 + 1).
SELECT transaction_key, transaction_date, amount, first_payment_amount
FROM (
  SELECT
    transaction_key, transaction_date, amount, first_payment_amount,
    CAST(ROUND(first_payment_amount * 100) AS INT64) AS first_payment_cents,
    CAST(FLOOR(amount_cents / 4) AS INT64) AS half,
    MOD(amount_cents, 4) AS rest,
    (amount * 100.0 - CAST(amount_cents AS FLOAT64))
      + (((amount * @quarter_split - (amount * @quarter_split - amount)) * 100.0 - amount * 100.0)
        + (amount - (amount * @quarter_split - (amount * @quarter_split - amount))) * 100.0)
      AS above
  FROM {{ relation }}
  WHERE transaction_date BETWEEN @start_date AND @end_date
)
WHERE first_payment_cents != half + CASE
    WHEN rest = 3 THEN 1
    WHEN rest != 2 THEN 0
    WHEN above > 0 THEN 1
    WHEN above < 0 THEN 0
    ELSE MOD(half, 2)
  END

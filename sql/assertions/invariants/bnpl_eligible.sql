-- Contract invariant 8: product_bnpl_eligible == (amount >= 50 and the category is one of
-- electronics, clothing, home).
SELECT transaction_key, transaction_date, amount, product_category, product_bnpl_eligible
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND product_bnpl_eligible != (amount >= 50 AND product_category IN ('electronics', 'clothing', 'home'))

-- Contract invariants 9 and 10: device and payment-method ids start with customer_id + "_";
-- transaction_id is "txn_" + the 8-digit record id.
SELECT transaction_key, transaction_date, transaction_id, _record_id, customer_id, device_id, payment_method_id
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND NOT (
    STARTS_WITH(device_id, CONCAT(customer_id, '_'))
    AND STARTS_WITH(payment_method_id, CONCAT(customer_id, '_'))
    AND transaction_id = CONCAT('txn_', LPAD(CAST(_record_id AS STRING), 8, '0'))
  )

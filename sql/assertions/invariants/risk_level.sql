-- Contract invariant 4: risk_level is the threshold function of risk_score, lower bounds
-- inclusive. Thresholds and labels are bound from bnpl.record.RISK_LEVEL_THRESHOLDS
-- (@risk_below_<i>, @risk_level_<i>; @risk_level_top above the last), the definition the
-- Python contract checks too.
SELECT transaction_key, transaction_date, risk_score, risk_level
FROM {{ relation }}
WHERE transaction_date BETWEEN @start_date AND @end_date
  AND risk_level != CASE
{% for index in range(risk_levels) %}
    WHEN risk_score < @risk_below_{{ index }} THEN @risk_level_{{ index }}
{% endfor %}
    ELSE @risk_level_top
  END

"""Pandera contracts for every table bnpl loads.

A row fails when any check fails (Pandera, ``lazy=True``, on the eager frame). Its quarantine row
lists every failure in ``failures`` and names the first as ``check_name``/``column_name``, in
this order: source fields before derived columns (keys, ``amount_cents``, ``transaction_ts``),
a field's own checks (type, null, domain, range, pattern) before rules across fields, then schema
column order, then the check's order on its column. Checks on a value that is null pass
(``ignore_na``), so a null is reported once, by ``not_nullable``, not by every rule that reads it.

The invariants come from contract §2.2; they hold for simtom with noise and drift off:

* ``amount_equals_price``: ``amount`` and ``product_price`` are the same number of cents.
* ``first_payment_is_quarter``: ``first_payment_amount == round(amount * 0.25, 2)`` with
  Python's binary-float rounding reproduced exactly (:func:`python_quarter_cents`).
* ``installment_count_rule``, ``risk_level_from_score`` (0.3 / 0.6 / 0.8, lower bounds
  inclusive), ``default_fields_consistent``, ``present_only_for_credit_stretched``,
  ``consistent_with_scenario`` (the §2.1 table), ``bnpl_eligible_rule``,
  ``prefixed_by_customer_id``, ``matches_record_id``, ``unique_in_batch`` (a repeated
  ``transaction_id`` is quarantined after its first occurrence), constants (``equal_to``) and
  ``timestamp_on_requested_day``.

A clean day is first screened by :func:`passes`, which evaluates the same Pandera checks in one
Polars query; only a day with a failing row is validated check by check, and Pandera's
``failure_cases`` then decide and name every failure. A day's records become these frames in
:func:`bnpl.ingest.prepare_day`.
"""

from __future__ import annotations

from bnpl.contracts._screen import Failure, check_or_raise, failures, passes
from bnpl.contracts.ledger import SourceBatches, check_ledger_row
from bnpl.contracts.rules import (
    BNPL_ELIGIBLE_CATEGORIES,
    BNPL_ELIGIBLE_MIN_CENTS,
    DEVICE_OS_BY_TYPE,
    SCENARIO_RULES,
    polars_schema,
    python_quarter_cents,
)
from bnpl.contracts.tables import (
    DERIVED_COLUMNS,
    Customers,
    Quarantine,
    Transactions,
    on_day,
    transactions_schema,
)

__all__ = [
    "BNPL_ELIGIBLE_CATEGORIES",
    "BNPL_ELIGIBLE_MIN_CENTS",
    "DERIVED_COLUMNS",
    "DEVICE_OS_BY_TYPE",
    "SCENARIO_RULES",
    "Customers",
    "Failure",
    "Quarantine",
    "SourceBatches",
    "Transactions",
    "check_ledger_row",
    "check_or_raise",
    "failures",
    "on_day",
    "passes",
    "polars_schema",
    "python_quarter_cents",
    "transactions_schema",
]

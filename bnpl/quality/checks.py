"""Every data-quality check, declared once: name, category, model, severity, what it asserts.

Thresholds live in :class:`bnpl.settings.QualitySettings` (``BNPL_QUALITY__*``); severities can
be overridden per check with ``BNPL_QUALITY__SEVERITY_OVERRIDES``. :func:`declared_checks` gives
the list a run evaluates: these, the checks each mart declares in its header
(:mod:`bnpl.quality.declared`) and the user's own (:mod:`bnpl.quality.user_checks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from bnpl import record
from bnpl.errors import ConfigError
from bnpl.models.model import Project
from bnpl.models.project import load_project
from bnpl.quality import completeness, drift, patterns
from bnpl.quality.base import Check
from bnpl.quality.declared import declared_model_checks
from bnpl.quality.integrity import Relation, SqlAssertion
from bnpl.quality.user_checks import user_checks
from bnpl.settings import QualitySettings
from bnpl.warehouse import names

RAW_TX = str(names.TRANSACTIONS)
RAW_CUSTOMERS = str(names.CUSTOMERS)
RAW_QUARANTINE = str(names.QUARANTINE)
LEDGER = str(names.LEDGER)
MART_TX = "mart_bnpl_transactions"
MART_DAILY = "mart_bnpl_daily_volume"

_ACCEPTED_VALUES: dict[str, list[object]] = {
    "risk_scenario": list(record.RISK_SCENARIOS),
    "risk_level": list(record.RISK_LEVELS),
    "installment_count": list(record.INSTALLMENT_COUNTS),
    "purchase_context": list(record.PURCHASE_CONTEXTS),
    "checkout_speed": list(record.CHECKOUT_SPEEDS),
    "customer_age_bracket": list(record.AGE_BRACKETS),
    "customer_income_bracket": list(record.INCOME_BRACKETS),
    "customer_credit_score_range": list(record.CREDIT_SCORE_RANGES),
    "customer_verification_level": list(record.VERIFICATION_LEVELS),
    "customer_address_stability": list(record.ADDRESS_STABILITIES),
    "customer_state": list(record.US_STATES),
    "product_category": list(record.PRODUCT_CATEGORIES),
    "product_brand": list(record.PRODUCT_BRANDS),
    "product_risk_category": list(record.PRODUCT_RISK_CATEGORIES),
    "device_type": list(record.DEVICE_TYPES),
    "device_os": list(record.DEVICE_OS),
    "payment_provider": list(record.PAYMENT_PROVIDERS),
    "payment_credit_limit": list(record.PAYMENT_CREDIT_LIMITS),
    **{
        name: [value]
        for name, value in record.CONSTANTS.items()
        if isinstance(value, str) and name != "_generator"
    },
}

_PRICE_LOW = min(lo for lo, _ in record.PRODUCT_PRICE_RANGES.values())
_PRICE_HIGH = max(hi for _, hi in record.PRODUCT_PRICE_RANGES.values())
_RANGES: dict[str, tuple[float, float]] = {
    "amount": (_PRICE_LOW, _PRICE_HIGH),
    "product_price": (_PRICE_LOW, _PRICE_HIGH),
    "risk_score": (0.0, 1.0),
    "credit_utilization": (0.0, 1.0),
    "cart_abandonment_count": (0, 3),
    "price_comparison_time": (0, 300),
    "time_on_site_seconds": (30, 900),
    "customer_tenure_days": (0, 3650),
    "economic_stress_factor": (0.0, 0.0),
}


RULE_PARAMETERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "risk_level": (
        {"risk_levels": len(record.RISK_LEVEL_THRESHOLDS)},
        {
            **{f"risk_below_{i}": t for i, (t, _) in enumerate(record.RISK_LEVEL_THRESHOLDS)},
            **{f"risk_level_{i}": name for i, (_, name) in enumerate(record.RISK_LEVEL_THRESHOLDS)},
            "risk_level_top": record.RISK_LEVELS[-1],
        },
    ),
    # Dekker's split for doubles (2**27 + 1), as in bnpl.contracts.python_quarter_cents
    "first_payment_quarter": ({}, {"quarter_split": float(2**27 + 1)}),
}
"""Template variables and bound parameters of the invariants whose rule Python defines
(``bnpl.record``): the SQL takes its thresholds and labels from the same definition."""


def _invariant(name: str, template: str, description: str) -> Check:
    variables, params = RULE_PARAMETERS.get(template, ({}, {}))
    return Check(
        name=f"invariant_{name}",
        category="integrity",
        model=RAW_TX,
        severity="error",
        description=description,
        evaluate=SqlAssertion(
            f"invariants/{template}", {"relation": Relation(RAW_TX), **variables}, params
        ),
    )


RAW_CHECKS: tuple[Check, ...] = (
    # --- integrity: keys, relationships, domains ----------------------------------------------
    Check(
        "transactions_key_unique", "integrity", RAW_TX, "error",
        "transaction_key occurs once in the range",
        SqlAssertion("unique", {"relation": Relation(RAW_TX), "columns": ["transaction_key"]}),
    ),
    Check(
        "transactions_keys_not_null", "integrity", RAW_TX, "error",
        "transaction_key, customer_key and batch_id are never null",
        SqlAssertion(
            "not_null",
            {"relation": Relation(RAW_TX), "columns": ["transaction_key", "customer_key", "batch_id"]},
        ),
    ),
    Check(
        "customers_key_unique", "integrity", RAW_CUSTOMERS, "error",
        "customer_key occurs once per batch",
        SqlAssertion(
            "unique", {"relation": Relation(RAW_CUSTOMERS), "columns": ["batch_id", "customer_key"]}
        ),
    ),
    Check(
        "customers_keys_not_null", "integrity", RAW_CUSTOMERS, "error",
        "customer_key, customer_id and batch_id are never null",
        SqlAssertion(
            "not_null",
            {"relation": Relation(RAW_CUSTOMERS), "columns": ["customer_key", "customer_id", "batch_id"]},
        ),
    ),
    Check(
        "transactions_customer_exists", "integrity", RAW_TX, "error",
        "every transaction's customer_key has a customers row of the same day",
        SqlAssertion(
            "relationship",
            {
                "child": Relation(RAW_TX),
                "column": "customer_key",
                "parent": Relation(RAW_CUSTOMERS),
                "parent_column": "customer_key",
                "same_day": True,
                "parent_partitioned": True,
            },
        ),
    ),
    Check(
        "transactions_accepted_values", "integrity", RAW_TX, "error",
        "categorical fields hold only the contract's values (contract §2.1)",
        SqlAssertion(
            "accepted_values",
            {"relation": Relation(RAW_TX), "columns": list(_ACCEPTED_VALUES)},
            {f"accepted_{c}": v for c, v in _ACCEPTED_VALUES.items()},
        ),
    ),
    Check(
        "transactions_accepted_ranges", "integrity", RAW_TX, "error",
        "numeric fields stay inside the contract's ranges (contract §2.1)",
        SqlAssertion(
            "accepted_ranges",
            {"relation": Relation(RAW_TX), "columns": list(_RANGES)},
            {
                **{f"min_{c}": lo for c, (lo, _) in _RANGES.items()},
                **{f"max_{c}": hi for c, (_, hi) in _RANGES.items()},
            },
        ),
    ),
    # --- integrity: the contract's invariants (§2.2) re-checked in SQL ------------------------
    _invariant("amount_equals_price", "amount_equals_price", "amount == product_price (and amount_cents matches)"),
    _invariant("first_payment_quarter", "first_payment_quarter", "first_payment_amount == round(amount × 0.25, 2)"),
    _invariant("installment_count", "installment_count", "4 instalments below $100, 4 or 6 from $100"),
    _invariant("risk_level", "risk_level", "risk_level is the threshold function of risk_score"),
    _invariant("default_fields", "default_fields", "days_to_first_missed_payment is set exactly when will_default, as 14·k"),
    _invariant("credit_utilization", "credit_utilization", "credit_utilization is present exactly for credit_stretched"),
    _invariant("scenario_behaviour", "scenario_behaviour", "context, speed and timings follow the risk scenario"),
    _invariant("bnpl_eligible", "bnpl_eligible", "product_bnpl_eligible == (amount ≥ 50 and an eligible category)"),
    _invariant("source_ids", "source_ids", "device/payment ids extend customer_id; transaction_id encodes _record_id"),
    _invariant("transaction_day", "transaction_day", "the partition day is the record timestamp's day"),
    # (the marts' not-null, unique and relationship checks are generated from their
    # declarations: bnpl.quality.declared)
)  # fmt: skip

RUN_CHECKS: tuple[Check, ...] = (
    # --- completeness --------------------------------------------------------------------------
    Check(
        "ledger_days_present", "completeness", LEDGER, "error",
        "every day of the range has a ledger row", completeness.ledger_days_present,
    ),
    Check(
        "transactions_days_present", "completeness", RAW_TX, "error",
        "every day of the range has transactions", completeness.transactions_days_present,
    ),
    Check(
        "transactions_match_ledger", "completeness", RAW_TX, "error",
        "transactions per day == the ledger's records_loaded",
        completeness.CountsMatchLedger("transactions", "records_loaded"),
    ),
    Check(
        "quarantine_matches_ledger", "completeness", RAW_QUARANTINE, "error",
        "quarantined rows per day == the ledger's records_quarantined",
        completeness.CountsMatchLedger("quarantined_rows", "records_quarantined"),
    ),
    Check(
        "customers_match_ledger", "completeness", RAW_CUSTOMERS, "error",
        "customer rows per day == the ledger's customers_loaded",
        completeness.CountsMatchLedger("customer_rows", "customers_loaded"),
    ),
    Check(
        "mart_transactions_match_raw", "completeness", MART_TX, "error",
        "the transaction mart has exactly the raw transactions of every day",
        completeness.MartMatchesRaw(MART_TX),
    ),
    Check(
        "mart_daily_volume_matches_raw", "completeness", MART_DAILY, "error",
        "the daily-volume mart has one row per day counting exactly the raw transactions",
        completeness.MartMatchesRaw(MART_DAILY, "transaction_count"),
    ),
    Check(
        "live_rows_match_seal", "completeness", str(names.LIVE_TRANSACTIONS), "error",
        "a sealed live day holds exactly its live rows and dead letters",
        completeness.live_rows_match_seal,
    ),
    Check(
        "ledger_counts_add_up", "completeness", LEDGER, "error",
        "received == loaded + quarantined for every day", completeness.ledger_counts_add_up,
    ),
    Check(
        "quarantine_rate", "completeness", LEDGER, "error",
        "each day's quarantined share is at most quarantine_rate_max", completeness.quarantine_rate,
    ),
    # --- freshness and volume ------------------------------------------------------------------
    Check(
        "earlier_blocks_resolved", "completeness", str(names.DQ_RESULTS), "error",
        "no day outside the range is still blocked by its latest gate run",
        completeness.earlier_blocks_resolved,
    ),
    Check(
        "freshness", "freshness", LEDGER, "error",
        "the newest loaded day is at most freshness_max_lag_days before the logical date",
        completeness.freshness,
    ),
    Check(
        "volume_vs_expected", "volume", RAW_TX, "error",
        "each day's records match simtom's volume model for its request (exact when seeded)",
        completeness.volume_vs_expected,
    ),
    # --- statistical patterns ------------------------------------------------------------------
    Check(
        "weekend_dip", "pattern", RAW_TX, "error",
        "weekend volume is below weekday volume by the ratio of simtom's day-of-week factors",
        patterns.weekend_dip,
    ),
    Check(
        "holiday_black_friday_spike", "pattern", RAW_TX, "error",
        "Black Friday is above its surrounding baseline by the expected ratio",
        patterns.HolidayEffect("Black Friday", "spike"),
    ),
    Check(
        "holiday_cyber_monday_spike", "pattern", RAW_TX, "error",
        "Cyber Monday is above its surrounding baseline by the expected ratio",
        patterns.HolidayEffect("Cyber Monday", "spike"),
    ),
    Check(
        "holiday_thanksgiving_trough", "pattern", RAW_TX, "error",
        "Thanksgiving is below its surrounding baseline by the expected ratio",
        patterns.HolidayEffect("Thanksgiving Day", "trough"),
    ),
    Check(
        "holiday_christmas_trough", "pattern", RAW_TX, "error",
        "Christmas Day is below its surrounding baseline by the expected ratio",
        patterns.HolidayEffect("Christmas Day", "trough"),
    ),
    # --- drift ---------------------------------------------------------------------------------
    Check(
        "drift_amount_psi", "drift", RAW_TX, "error",
        "daily amount distribution vs the trailing window: PSI under psi_error (warn over psi_warn)",
        drift.FeatureDrift("amount"),
    ),
    Check(
        "drift_risk_score_psi", "drift", RAW_TX, "error",
        "daily risk_score distribution vs the trailing window: PSI under psi_error (warn over psi_warn)",
        drift.FeatureDrift("risk_score"),
    ),
    Check(
        "drift_category_mix_psi", "drift", RAW_TX, "error",
        "daily product_category mix vs the trailing window: PSI under psi_error (warn over psi_warn)",
        drift.FeatureDrift("product_category"),
    ),
    Check(
        "customer_attribute_changes", "drift", RAW_CUSTOMERS, "warn",
        "share of customer ids with changing attributes at most changed_attribute_share_warn",
        drift.changed_attribute_share,
    ),
)  # fmt: skip


def all_checks(project: Project | None = None) -> tuple[Check, ...]:
    """Every check, in run order: the raw tables' integrity (:data:`RAW_CHECKS`), each mart's
    declared checks (:mod:`bnpl.quality.declared`), the user's own checks
    (:mod:`bnpl.quality.user_checks`), then completeness, freshness, volume, patterns and drift
    (:data:`RUN_CHECKS`).

    Args:
        project: the models (with ``BNPL_PROJECT__DIR``'s); default: the bundled ones.

    Raises:
        ConfigError: a user check is malformed, or two checks share a name.
    """
    project = project or load_project()
    checks = (*RAW_CHECKS, *declared_model_checks(project), *user_checks(project), *RUN_CHECKS)
    names = [c.name for c in checks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"check names {twice} are used twice; rename the user checks")
    return checks


def declared_checks(settings: QualitySettings, project: Project | None = None) -> tuple[Check, ...]:
    """The checks a run evaluates (:func:`all_checks`), with ``severity_overrides`` applied.

    Raises:
        ConfigError: an override names a check that does not exist, or as :func:`all_checks`.
    """
    checks = all_checks(project)
    known = {c.name for c in checks}
    unknown = sorted(set(settings.severity_overrides) - known)
    if unknown:
        raise ConfigError(
            f"BNPL_QUALITY__SEVERITY_OVERRIDES names unknown checks {unknown}; "
            f"known checks: {', '.join(sorted(known))}"
        )
    return tuple(
        dataclasses.replace(c, severity=settings.severity_overrides[c.name])
        if c.name in settings.severity_overrides
        else c
        for c in checks
    )


def select_checks(checks: Sequence[Check], names: Sequence[str]) -> tuple[Check, ...]:
    """The checks named in ``names`` (all of ``checks`` when ``names`` is empty), in run order.

    Raises:
        ConfigError: a name is not a check; the message lists the known ones.
    """
    if not names:
        return tuple(checks)
    known = {c.name for c in checks}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(
            f"--select names unknown checks {unknown}; known checks: {', '.join(sorted(known))}"
        )
    return tuple(c for c in checks if c.name in set(names))

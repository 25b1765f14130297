"""Every check passes on clean data and fails on data built to break it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from quality_data import END, START, Knobs, make_day, request

from bnpl.calendar import iter_days, source_dow_factor
from bnpl.errors import ConfigError
from bnpl.quality import CheckResult, all_checks, declared_checks, run_checks
from bnpl.quality.base import Check
from bnpl.quality.integrity import Relation, SqlAssertion
from bnpl.settings import QualitySettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

SETTINGS = QualitySettings()
A_WEDNESDAY = date(2024, 11, 13)


def check(*names: str) -> list[Check]:
    """The declared checks called ``names``."""
    found = [c for c in CHECKS if c.name in names]
    assert len(found) == len(names), f"unknown checks among {names}"
    return found


def run(
    warehouse: DuckDBWarehouse, checks: list[Check] | None = None, **kwargs: object
) -> dict[str, CheckResult]:
    """Results by check name over the standard range."""
    params = {"start": START, "end": END, "logical_date": END, **kwargs}
    results = run_checks(warehouse, SETTINGS, checks=checks, **params)  # type: ignore[arg-type]
    return {r.check_name: r for r in results}


def not_passing(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if r.status not in ("pass", "skip")}


MART_CHECKS = {c.name for c in CHECKS if "." not in c.model}


def test_clean_data_passes_every_check(warehouse: DuckDBWarehouse) -> None:
    """On clean raw data every check of the raw tables passes (the range holds every pattern, so
    none is skipped); checks of marts that were not built are skipped, saying so."""
    results = run(warehouse)
    assert set(results) == {c.name for c in CHECKS}
    assert {n: r.status for n, r in results.items() if r.status != "pass"} == dict.fromkeys(
        MART_CHECKS, "skip"
    )
    assert all("is not built" in results[n].details for n in MART_CHECKS)


def test_duplicated_key_fails_the_uniqueness_check_only(warehouse: DuckDBWarehouse) -> None:
    """Three extra rows sharing one transaction_key fail transactions_key_unique, and only it."""
    warehouse.load_day(make_day(A_WEDNESDAY, Knobs(duplicate_keys=3)))
    results = run(warehouse)
    assert not_passing(results) == {"transactions_key_unique"}
    assert results["transactions_key_unique"].observed_value == 1.0
    assert "occurrences=4" in results["transactions_key_unique"].details


def test_orphan_transaction_fails_the_relationship_check_only(warehouse: DuckDBWarehouse) -> None:
    """A transaction whose customer_key has no customers row fails transactions_customer_exists."""
    warehouse.load_day(make_day(A_WEDNESDAY, Knobs(orphans=2)))
    results = run(warehouse)
    assert not_passing(results) == {"transactions_customer_exists"}
    assert "no-such-customer" in results["transactions_customer_exists"].details


def test_missing_day_fails_the_completeness_checks(warehouse: DuckDBWarehouse) -> None:
    """A day absent from the ledger and the tables fails ledger_days_present and transactions_days_present."""
    for table in ("transactions", "customers", "quarantine", "source_batches"):
        warehouse.execute(
            f'DELETE FROM "bnpl_raw"."{table}" WHERE transaction_date = $d', {"d": A_WEDNESDAY}
        )
    results = run(warehouse)
    assert not_passing(results) == {"ledger_days_present", "transactions_days_present"}
    assert str(A_WEDNESDAY) in results["ledger_days_present"].details


def test_rows_lost_after_loading_fail_the_ledger_reconciliation(warehouse: DuckDBWarehouse) -> None:
    """Deleting half a day's transactions (the ledger still says all) fails transactions_match_ledger and volume."""
    warehouse.execute(
        'DELETE FROM "bnpl_raw"."transactions" WHERE transaction_date = $d AND _record_id % 2 = 0',
        {"d": A_WEDNESDAY},
    )
    results = run(warehouse)
    assert {"transactions_match_ledger", "volume_vs_expected"} <= not_passing(results)
    assert not_passing(results) <= {
        "transactions_match_ledger",
        "volume_vs_expected",
        "transactions_customer_exists",
    }


def test_day_with_half_its_volume_fails_the_volume_check_only(warehouse: DuckDBWarehouse) -> None:
    """A consistently loaded day with half the expected records fails volume_vs_expected, and only it."""
    expected = request(A_WEDNESDAY).expected_volume
    warehouse.load_day(make_day(A_WEDNESDAY, Knobs(count=expected // 2)))
    results = run(warehouse)
    assert not_passing(results) == {"volume_vs_expected"}
    assert f"{expected // 2} vs expected {expected}" in results["volume_vs_expected"].details


def test_one_record_too_many_fails_a_seeded_day_exactly(warehouse: DuckDBWarehouse) -> None:
    """A seeded day is checked exactly: one extra record is a failure."""
    expected = request(A_WEDNESDAY).expected_volume
    warehouse.load_day(make_day(A_WEDNESDAY, Knobs(count=expected + 1)))
    assert run(warehouse, check("volume_vs_expected"))["volume_vs_expected"].status == "fail"


def test_flattened_weekend_fails_the_weekend_dip(warehouse: DuckDBWarehouse) -> None:
    """Weekend days loaded at weekday level (no dip) fail weekend_dip."""
    weekday_dow = (
        sum(source_dow_factor(date(2024, 11, 4) + timedelta(days=i)) for i in range(5)) / 5
    )
    for day in iter_days(START, END):
        if day.weekday() >= 5:
            flat = round(request(day).expected_volume * weekday_dow / source_dow_factor(day))
            warehouse.load_day(make_day(day, Knobs(count=flat)))
    results = run(warehouse)
    assert results["weekend_dip"].status == "fail"
    assert "missing or too shallow" in results["weekend_dip"].details
    assert results["weekend_dip"].observed_value is not None
    assert results["weekend_dip"].observed_value > 0.9


def test_flattened_black_friday_fails_the_holiday_spike(warehouse: DuckDBWarehouse) -> None:
    """Black Friday loaded at an ordinary Friday's level fails holiday_black_friday_spike."""
    black_friday = date(2024, 11, 29)
    plain = (
        request(black_friday).expected_volume * 1.0 / 1.6 / 1.3
    )  # without the day's and the week's events
    warehouse.load_day(make_day(black_friday, Knobs(count=round(plain))))
    results = run(warehouse, check("holiday_black_friday_spike", "holiday_cyber_monday_spike"))
    assert results["holiday_black_friday_spike"].status == "fail"
    assert results["holiday_cyber_monday_spike"].status == "pass"


def test_christmas_at_normal_volume_fails_the_trough(warehouse: DuckDBWarehouse) -> None:
    """Christmas Day loaded at the level of its neighbours fails holiday_christmas_trough."""
    christmas = date(2024, 12, 25)
    warehouse.load_day(
        make_day(christmas, Knobs(count=request(date(2024, 12, 23)).expected_volume))
    )
    assert (
        run(warehouse, check("holiday_christmas_trough"))["holiday_christmas_trough"].status
        == "fail"
    )


def test_shifted_amount_distribution_fails_the_amount_drift_only(
    warehouse: DuckDBWarehouse,
) -> None:
    """A day whose prices are 60 % higher (still contract-valid) fails drift_amount_psi, and only it."""
    warehouse.load_day(make_day(date(2024, 12, 10), Knobs(price_scale=1.6)))
    results = run(warehouse)
    assert not_passing(results) == {"drift_amount_psi"}
    result = results["drift_amount_psi"]
    assert result.observed_value is not None and result.observed_value > SETTINGS.psi_error
    assert "2024-12-10" in result.details


def test_quarantine_rate_over_threshold_fails(warehouse: DuckDBWarehouse) -> None:
    """A day with 5 % of its records quarantined fails quarantine_rate, and only it."""
    quarantined = request(A_WEDNESDAY).expected_volume // 20
    warehouse.load_day(make_day(A_WEDNESDAY, Knobs(quarantined=quarantined)))
    results = run(warehouse)
    assert not_passing(results) == {"quarantine_rate"}
    assert results["quarantine_rate"].observed_value == pytest.approx(
        quarantined / request(A_WEDNESDAY).expected_volume
    )


def test_stale_data_fails_freshness(warehouse: DuckDBWarehouse) -> None:
    """Three days between the newest loaded day and the logical date fail freshness (limit 1)."""
    results = run(warehouse, check("freshness"), logical_date=END + timedelta(days=3))
    assert results["freshness"].status == "fail"
    assert results["freshness"].observed_value == 3.0


def test_changed_customer_attributes_warn(warehouse: DuckDBWarehouse) -> None:
    """Customers flagged with changed attributes above the share limit give a warning, not a failure."""
    warehouse.execute(
        'UPDATE "bnpl_raw"."customers" SET attributes_changed = true '
        "WHERE transaction_date = $d AND hash(customer_id) % 5 = 0",
        {"d": A_WEDNESDAY},
    )
    result = run(warehouse, check("customer_attribute_changes"))["customer_attribute_changes"]
    assert result.status == "warn"
    assert not result.blocking


TX = '"bnpl_raw"."transactions"'
BREAKS = [
    ("invariant_amount_equals_price", f"UPDATE {TX} SET product_price = amount + 1"),
    (
        "invariant_first_payment_quarter",
        f"UPDATE {TX} SET first_payment_amount = first_payment_amount + 0.05",
    ),
    ("invariant_installment_count", f"UPDATE {TX} SET installment_count = 6 WHERE amount < 100"),
    ("invariant_risk_level", f"UPDATE {TX} SET risk_level = 'high' WHERE risk_score < 0.3"),
    (
        "invariant_default_fields",
        f"UPDATE {TX} SET days_to_first_missed_payment = 14 WHERE NOT will_default",
    ),
    (
        "invariant_credit_utilization",
        f"UPDATE {TX} SET credit_utilization = 0.5 WHERE risk_scenario = 'low_risk_purchase'",
    ),
    (
        "invariant_scenario_behaviour",
        f"UPDATE {TX} SET checkout_speed = 'fast' WHERE risk_scenario = 'low_risk_purchase'",
    ),
    (
        "invariant_bnpl_eligible",
        f"UPDATE {TX} SET product_bnpl_eligible = NOT product_bnpl_eligible",
    ),
    ("invariant_source_ids", f"UPDATE {TX} SET device_id = 'cust_999999_device_1'"),
    ("invariant_transaction_day", f"UPDATE {TX} SET _timestamp = '2023-01-01T00:00:00'"),
    ("transactions_accepted_values", f"UPDATE {TX} SET customer_state = 'ZZ'"),
    ("transactions_accepted_ranges", f"UPDATE {TX} SET cart_abandonment_count = 9"),
    (
        "customers_key_unique",
        'INSERT INTO "bnpl_raw"."customers" SELECT * FROM "bnpl_raw"."customers" '
        "WHERE transaction_date = $d LIMIT 1",
    ),
]


@pytest.mark.parametrize(("name", "statement"), BREAKS, ids=[b[0] for b in BREAKS])
def test_sql_assertion_fails_on_rows_that_break_it(
    warehouse: DuckDBWarehouse, name: str, statement: str
) -> None:
    """Rows of one day edited to break the rule make the check fail and quote an offending row."""
    if "WHERE" in statement and "$d" not in statement:
        statement += " AND transaction_date = $d AND _record_id < 5"
    elif "$d" not in statement:
        statement += " WHERE transaction_date = $d AND _record_id < 5"
    warehouse.execute(statement, {"d": A_WEDNESDAY})
    result = run(warehouse, check(name))[name]
    assert result.status == "fail", result.details
    assert result.observed_value is not None and result.observed_value >= 1
    assert "violating rows, e.g." in result.details


def test_not_null_assertion_finds_null_keys(warehouse: DuckDBWarehouse) -> None:
    """The not_null template reports rows of a table (without NOT NULL constraints) that lack a key."""
    warehouse.execute(
        'CREATE TABLE "bnpl_audit"."keys" AS SELECT transaction_key, customer_key, transaction_date '
        'FROM "bnpl_raw"."transactions" WHERE transaction_date = $d',
        {"d": A_WEDNESDAY},
    )
    probe = Check(
        "keys_not_null", "integrity", "keys", "error", "keys are set",
        SqlAssertion("not_null", {"relation": Relation("keys"), "columns": ["transaction_key", "customer_key"]}),
    )  # fmt: skip
    assert run(warehouse, [probe])["keys_not_null"].status == "pass"
    warehouse.execute(
        'UPDATE "bnpl_audit"."keys" SET customer_key = NULL WHERE transaction_key IN '
        '(SELECT transaction_key FROM "bnpl_audit"."keys" LIMIT 2)'
    )
    result = run(warehouse, [probe])["keys_not_null"]
    assert (result.status, result.observed_value) == ("fail", 2.0)


def test_a_check_that_cannot_run_is_an_error_result(warehouse: DuckDBWarehouse) -> None:
    """A check whose SQL fails is stored as status error and blocks; the other checks still run."""
    broken = Check(
        "broken", "integrity", "bnpl_raw.no_such_table", "error", "reads a missing table",
        SqlAssertion("unique", {"relation": Relation("bnpl_raw.no_such_table"), "columns": ["x"]}),
    )  # fmt: skip
    results = run(warehouse, [broken, *check("freshness")])
    assert results["broken"].status == "error" and results["broken"].blocking
    assert "could not run" in results["broken"].details
    assert results["freshness"].status == "pass"


def test_severity_overrides_apply_and_unknown_names_are_refused() -> None:
    """BNPL_QUALITY__SEVERITY_OVERRIDES changes a check's severity; an unknown check name is a ConfigError."""
    checks = declared_checks(QualitySettings(severity_overrides={"weekend_dip": "warn"}))
    assert next(c for c in checks if c.name == "weekend_dip").severity == "warn"
    with pytest.raises(ConfigError, match="no_such_check"):
        declared_checks(QualitySettings(severity_overrides={"no_such_check": "warn"}))


def test_check_names_are_unique_and_every_category_is_covered() -> None:
    """Check names are unique and each of the six families has at least one check."""
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names))
    assert {c.category for c in CHECKS} == {
        "integrity",
        "completeness",
        "freshness",
        "volume",
        "pattern",
        "drift",
    }

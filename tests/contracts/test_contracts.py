"""bnpl.contracts: one day's records to valid transactions, customers and quarantine."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandera.errors
import polars as pl
import pytest

from bnpl import contracts, ingest, normalize, record
from bnpl.calendar import DayRequest
from bnpl.errors import ContractError
from bnpl.warehouse.base import table_spec

LOADED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SOURCE = "simulator:bnpl/0.1.0"
DAY = date(2024, 11, 29)


def frame_records(body: bytes) -> list[bytes]:
    """Split a simtom body into records (the real framer lives in bnpl.source)."""
    return [event.removeprefix(b"data: ") for event in body.split(b"\n\n") if event]


@pytest.fixture(scope="module")
def by_day(captured_body: bytes) -> dict[date, list[bytes]]:
    """The captured records grouped by the calendar day of their _timestamp."""
    days: dict[date, list[bytes]] = defaultdict(list)
    for raw in frame_records(captured_body):
        days[date.fromisoformat(json.loads(raw)["_timestamp"][:10])].append(raw)
    return dict(days)


@pytest.fixture(scope="module")
def day_records(by_day: dict[date, list[bytes]]) -> list[bytes]:
    """The 407 records of 2024-11-29."""
    return by_day[DAY]


def request_for(day: date, n: int, **extra: Any) -> DayRequest:
    body = {"start_date": day.isoformat(), "end_date": day.isoformat(), "base_daily_volume": 200}
    return DayRequest(day, "weekday", {**body, "seed": 42, **extra}, n)


def prepare(
    records: list[bytes], day: date = DAY, scope: normalize.IdentityScope = "batch", **extra: Any
) -> ingest.PreparedDay:
    return ingest.prepare_day(
        records,
        request_for(day, len(records), **extra),
        source_identity=SOURCE,
        identity_scope=scope,
        loaded_at=LOADED_AT,
    )


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def edit(raw: bytes, **changes: Any) -> bytes:
    obj = json.loads(raw)
    obj.update(changes)
    return dumps(obj)


def find(records: list[bytes], **where: Any) -> int:
    """Index of the first record whose fields match ``where``."""
    return next(
        i
        for i, raw in enumerate(records)
        if all(json.loads(raw).get(k) == v for k, v in where.items())
    )


# --- the real capture ----------------------------------------------------------------------------


def test_captured_days_load_whole_with_no_quarantine(by_day: dict[date, list[bytes]]):
    """The real response, one request per day, loads 686 transactions: 39/407/240, none quarantined."""
    counts = {}
    for day, records in sorted(by_day.items()):
        prepared = prepare(records, day)
        assert prepared.quarantine.height == 0, prepared.quarantine["failures"].to_list()[:3]
        assert prepared.stats.records_received == prepared.stats.records_loaded == len(records)
        assert prepared.transactions["transaction_date"].unique().to_list() == [day]
        counts[day.isoformat()] = prepared.transactions.height
    assert counts == {"2024-11-28": 39, "2024-11-29": 407, "2024-11-30": 240}


BQ_TO_POLARS = {
    "STRING": pl.String,
    "INT64": pl.Int64,
    "FLOAT64": pl.Float64,
    "BOOL": pl.Boolean,
    "DATE": pl.Date,
    "DATETIME": pl.Datetime("us"),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}


@pytest.mark.parametrize("table", ["transactions", "customers", "quarantine"])
def test_frames_match_the_declared_table_schema(day_records: list[bytes], table: str):
    """Every output frame has exactly the columns, order and types of schemas/bnpl_raw."""
    prepared = prepare([*day_records, b"{not json"])
    spec = table_spec("bnpl_raw", table)
    frame = getattr(prepared, table)
    assert frame.height > 0
    assert frame.schema == pl.Schema({c.name: BQ_TO_POLARS[c.type] for c in spec.columns})
    required = [c.name for c in spec.columns if not c.nullable]
    assert frame.select(pl.col(required).null_count()).sum_horizontal().item() == 0


def test_keys_are_unique_and_deterministic(day_records: list[bytes]):
    """Keys are unique in the batch and identical on a second run of the same request."""
    first, second = prepare(day_records), prepare(day_records)
    assert first.transactions["transaction_key"].is_unique().all()
    assert first.customers["customer_key"].is_unique().all()
    assert first.transactions.equals(second.transactions)
    assert first.customers.equals(second.customers)
    assert first.batch_id == normalize.batch_id(SOURCE, request_for(DAY, 0).body)


def test_same_transaction_id_in_two_batches_gets_two_keys(day_records: list[bytes]):
    """simtom restarts ids per response: another request gives the same id another key."""
    one = prepare(day_records[:5])
    other = prepare(day_records[:5], seed=43)
    assert one.batch_id != other.batch_id
    assert one.transactions["transaction_id"].equals(other.transactions["transaction_id"])
    shared = set(one.transactions["transaction_key"]) & set(other.transactions["transaction_key"])
    assert shared == set()


def test_key_order_of_records_does_not_matter(day_records: list[bytes]):
    """Records with reversed key order prepare to the same frames."""
    reversed_keys = [dumps(dict(reversed(list(json.loads(r).items())))) for r in day_records]
    assert prepare(reversed_keys).transactions.equals(prepare(day_records).transactions)


# --- invariants ----------------------------------------------------------------------------------


def mutate(records: list[bytes], where: dict[str, Any], **changes: Any) -> tuple[list[bytes], int]:
    at = find(records, **where)
    changed = list(records)
    changed[at] = edit(records[at], **changes)
    return changed, at


BREAKS: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # (id, record to pick, changes, check, column)
    ("amount-price", {}, {"amount": 117.13}, "amount_equals_price", "amount"),
    ("first-payment", {}, {"first_payment_amount": 29.29}, "first_payment_is_quarter", "first_payment_amount"),
    ("installments", {"installment_count": 4}, {"installment_count": 6, "amount": 20.0, "product_price": 20.0, "first_payment_amount": 5.0}, "installment_count_rule", "installment_count"),
    ("risk-level", {"risk_level": "medium"}, {"risk_level": "low"}, "risk_level_from_score", "risk_level"),
    ("default-no-days", {"will_default": False}, {"will_default": True}, "default_fields_consistent", "days_to_first_missed_payment"),
    ("days-no-default", {"will_default": False}, {"days_to_first_missed_payment": 28}, "default_fields_consistent", "days_to_first_missed_payment"),
    ("days-off-schedule", {"will_default": False}, {"will_default": True, "days_to_first_missed_payment": 30}, "default_fields_consistent", "days_to_first_missed_payment"),
    ("days-after-term", {"installment_count": 4}, {"will_default": True, "days_to_first_missed_payment": 70}, "default_fields_consistent", "days_to_first_missed_payment"),
    ("utilization-extra", {"risk_scenario": "low_risk_purchase"}, {"credit_utilization": 0.1}, "present_only_for_credit_stretched", "credit_utilization"),
    ("context", {"risk_scenario": "low_risk_purchase"}, {"purchase_context": "impulse"}, "consistent_with_scenario", "purchase_context"),
    ("speed", {"risk_scenario": "impulse_purchase"}, {"checkout_speed": "slow"}, "consistent_with_scenario", "checkout_speed"),
    ("comparison", {"risk_scenario": "high_risk_behavior"}, {"price_comparison_time": 31}, "consistent_with_scenario", "price_comparison_time"),
    ("time-on-site", {"risk_scenario": "credit_stretched"}, {"time_on_site_seconds": 299}, "consistent_with_scenario", "time_on_site_seconds"),
    ("eligible", {"product_bnpl_eligible": True}, {"product_bnpl_eligible": False}, "bnpl_eligible_rule", "product_bnpl_eligible"),
    ("device-owner", {}, {"device_id": "cust_999999_device_1"}, "prefixed_by_customer_id", "device_id"),
    ("method-owner", {}, {"payment_method_id": "cust_999999_pm_1"}, "prefixed_by_customer_id", "payment_method_id"),
    ("currency", {}, {"currency": "EUR"}, "equal_to", "currency"),
    ("stress", {}, {"economic_stress_factor": 0.5}, "equal_to", "economic_stress_factor"),
    ("payment-type", {}, {"payment_type": "card"}, "equal_to", "payment_type"),
    ("other-day", {}, {"_timestamp": "2024-11-30T10:00:00"}, "timestamp_on_requested_day", "_timestamp"),
    ("ts-format", {}, {"_timestamp": "2024-11-29 10:00:00"}, "timestamp_format", "_timestamp"),
    ("ts-calendar", {}, {"_timestamp": "2024-11-29T25:00:00"}, "timestamp_format", "_timestamp"),
    ("scenario-enum", {"risk_scenario": "low_risk_purchase"}, {"risk_scenario": "yolo"}, "isin", "risk_scenario"),
    ("state-enum", {}, {"customer_state": "XX"}, "isin", "customer_state"),
    ("id-as-number", {}, {"customer_id": 5}, "str_matches", "customer_id"),
    ("null-amount", {}, {"amount": None}, "not_nullable", "amount"),
    ("null-bool", {}, {"will_default": None}, "not_nullable", "will_default"),
    ("record-id", {}, {"_record_id": 10_000}, "matches_record_id", "transaction_id"),
    ("subcategory", {"product_category": "electronics"}, {"product_subcategory": "shoes"}, "subcategory_of_category", "product_subcategory"),
    ("price-range", {"product_category": "beauty"}, {"amount": 99.0, "product_price": 99.0, "first_payment_amount": 24.75, "installment_count": 4}, "price_in_category_range", "product_price"),
    ("os", {"device_type": "desktop"}, {"device_os": "iOS"}, "os_of_device_type", "device_os"),
    ("cents", {}, {"amount": 117.125, "product_price": 117.125}, "on_cent_grid", "amount"),
    ("negative-id", {}, {"_record_id": -1}, "greater_than_or_equal_to", "_record_id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("where", "changes", "check", "column"),
    [b[1:] for b in BREAKS],
    ids=[b[0] for b in BREAKS],
)
def test_each_broken_rule_quarantines_that_row_only(
    day_records: list[bytes],
    where: dict[str, Any],
    changes: dict[str, Any],
    check: str,
    column: str,
):
    """A record breaking one contract rule is quarantined with that check and column; the other
    records all load."""
    records, at = mutate(day_records, where, **changes)
    prepared = prepare(records)
    assert prepared.quarantine.height == 1, prepared.quarantine["failures"].to_list()
    row = prepared.quarantine.row(0, named=True)
    assert (row["check_name"], row["column_name"]) == (check, column), row["failures"]
    assert row["line_number"] == at + 1
    assert row["raw_line"] == records[at].decode()
    assert row["transaction_date"] == DAY
    assert prepared.transactions.height == len(records) - 1
    loaded = set(prepared.transactions["_record_id"])
    assert loaded == {json.loads(r)["_record_id"] for i, r in enumerate(records) if i != at}


def test_missing_utilization_for_credit_stretched_is_quarantined(day_records: list[bytes]):
    """credit_stretched without credit_utilization breaks the presence rule."""
    at = find(day_records, risk_scenario="credit_stretched")
    obj = json.loads(day_records[at])
    del obj["credit_utilization"]
    records = [*day_records[:at], dumps(obj), *day_records[at + 1 :]]
    row = prepare(records).quarantine.row(0, named=True)
    assert (row["check_name"], row["column_name"]) == (
        "present_only_for_credit_stretched",
        "credit_utilization",
    )


def test_repeated_transaction_id_keeps_the_first(day_records: list[bytes]):
    """A transaction id seen twice loads once; the later line is quarantined."""
    records = [*day_records, day_records[3]]
    prepared = prepare(records)
    assert prepared.transactions.height == len(day_records)
    row = prepared.quarantine.row(0, named=True)
    assert (row["line_number"], row["check_name"]) == (len(records), "unique_in_batch")


def test_all_failures_are_listed_and_the_first_is_a_source_field(day_records: list[bytes]):
    """A row breaking several rules lists every failure; a source field is named first."""
    records, _ = mutate(day_records, {}, currency="EUR", amount=None)
    row = prepare(records).quarantine.row(0, named=True)
    failures = json.loads(row["failures"])
    assert {(f["check"], f["column"]) for f in failures} >= {
        ("equal_to", "currency"),
        ("not_nullable", "amount"),
        ("not_nullable", "amount_cents"),
    }
    assert (row["check_name"], row["column_name"]) == ("not_nullable", "amount")
    assert all(f["message"] for f in failures)


# --- parse-level quarantine ----------------------------------------------------------------------


def test_bad_lines_are_quarantined_with_raw_text_and_good_ones_load(day_records: list[bytes]):
    """Malformed JSON, a missing field and a float in an int field are each quarantined with
    their line and check; an extra field is kept; everything else loads."""
    records = list(day_records)
    records[5] = b'{"transaction_id": "txn_'
    obj = json.loads(records[6])
    del obj["customer_state"]
    records[6] = dumps(obj)
    records[7] = edit(records[7], installment_count=4.0)
    records[8] = edit(records[8], will_default=1.0)
    records[9] = edit(records[9], source_region="eu")
    prepared = prepare(records)
    got = prepared.quarantine.select(
        "line_number", "record_id", "check_name", "column_name", "raw_line"
    ).rows()
    rid = [json.loads(day_records[i])["_record_id"] for i in range(10)]
    assert got == [
        (6, None, "json_parse", None, records[5].decode()),
        (7, rid[6], "required_field", "customer_state", records[6].decode()),
        (8, rid[7], "type", "installment_count", records[7].decode()),
        (9, rid[8], "type", "will_default", records[8].decode()),
    ]
    stats = prepared.stats
    assert stats.records_received == len(records)
    assert stats.records_loaded == len(records) - 4
    assert stats.records_quarantined == 4
    assert stats.quarantine_by_check == {"json_parse": 1, "required_field": 1, "type": 2}
    assert stats.unknown_fields == ["source_region"]
    assert prepared.quarantine_rate == pytest.approx(4 / len(records))
    extra = prepared.transactions.filter(pl.col("extra").is_not_null())
    assert extra.select("_record_id", "extra").rows() == [(rid[9], '{"source_region":"eu"}')]


def test_a_day_of_drifted_records_is_quarantined_not_raised(day_records: list[bytes]):
    """simtom with noise on (ints and bools as floats): every record quarantined, no error."""
    drifted = [
        edit(r, installment_count=4.26886, will_default=0.0, payment_credit_limit=2500.0)
        for r in day_records[:50]
    ]
    prepared = prepare(drifted)
    assert prepared.stats.records_loaded == 0
    assert prepared.stats.records_quarantined == 50
    assert prepared.quarantine_rate == 1.0
    assert prepared.customers.height == 0


def test_empty_day_gives_empty_frames():
    """No records: empty frames with their schemas and a zero quarantine rate."""
    prepared = prepare([])
    assert prepared.transactions.height == prepared.customers.height == 0
    assert prepared.quarantine.schema == contracts.polars_schema("quarantine")
    assert prepared.quarantine_rate == 0.0


def test_naive_loaded_at_is_refused(day_records: list[bytes]):
    """loaded_at must be an instant; a naive datetime is a programming error."""
    with pytest.raises(ValueError, match="naive"):
        ingest.prepare_day(
            day_records,
            request_for(DAY, 1),
            source_identity=SOURCE,
            identity_scope="batch",
            loaded_at=datetime(2026, 1, 1),
        )


def test_loaded_at_is_stored_in_utc(day_records: list[bytes]):
    """A loaded_at in another zone is stored as the same instant in UTC."""
    local = LOADED_AT.astimezone(timezone(timedelta(hours=-5)))
    prepared = ingest.prepare_day(
        day_records[:3],
        request_for(DAY, 3),
        source_identity=SOURCE,
        identity_scope="batch",
        loaded_at=local,
    )
    assert prepared.transactions["loaded_at"].to_list() == [LOADED_AT] * 3


# --- customers -----------------------------------------------------------------------------------


def test_customers_are_deduplicated_from_valid_transactions(day_records: list[bytes]):
    """Customer rows, counts and first/last seen match a count done here in plain Python;
    a quarantined record does not count."""
    records, at = mutate(day_records, {}, currency="EUR")
    prepared = prepare(records)
    seen: dict[str, list[str]] = defaultdict(list)
    for i, raw in enumerate(records):
        if i != at:
            obj = json.loads(raw)
            seen[obj["customer_id"]].append(obj["_timestamp"])
    customers = prepared.customers
    assert customers.height == prepared.stats.customers_loaded == len(seen)
    got = {
        cid: (n, first.isoformat(), last.isoformat())
        for cid, n, first, last in customers.select(
            "customer_id", "transaction_count", "first_seen_ts", "last_seen_ts"
        ).rows()
    }
    assert got == {cid: (len(ts), min(ts), max(ts)) for cid, ts in seen.items()}
    assert customers["transaction_count"].sum() == prepared.transactions.height
    assert set(customers["identity_scope"]) == {"batch"}
    assert prepared.stats.customers_changed_attributes == 0


def test_changed_attributes_are_counted(day_records: list[bytes]):
    """Two customer ids that change attributes mid-batch are counted as two."""
    counts = Counter(json.loads(r)["customer_id"] for r in day_records)
    repeated = [cid for cid, n in counts.items() if n >= 2][:2]
    records = list(day_records)
    for cid in repeated:
        at = max(i for i, r in enumerate(records) if json.loads(r)["customer_id"] == cid)
        records[at] = edit(
            records[at], customer_tenure_days=json.loads(records[at])["customer_tenure_days"] + 1
        )
    prepared = prepare(records)
    assert prepared.stats.customers_changed_attributes == 2
    changed = prepared.customers.filter("attributes_changed")
    assert sorted(changed["customer_id"].to_list()) == sorted(repeated * 2)
    assert prepared.customers.height == len(counts) + 2


def test_source_scope_keeps_customer_keys_across_days(by_day: dict[date, list[bytes]]):
    """With stable ids, the same customer id and attributes on two days (two seeds) have one key;
    with batch scope they have two."""
    day1, day2 = sorted(by_day)[:2]
    same = by_day[day1][0]
    moved = edit(same, _timestamp=day2.isoformat() + "T12:00:00")
    universe = {"stable_customer_ids": True, "customer_universe_seed": 9}

    def key(raw: bytes, day: date, seed: int, scope: normalize.IdentityScope) -> str:
        prepared = prepare([raw], day, scope, **{**universe, "seed": seed})
        assert prepared.quarantine.height == 0
        return str(prepared.customers["customer_key"].item())

    assert key(same, day1, 1, "source") == key(moved, day2, 2, "source")
    assert key(same, day1, 1, "batch") != key(moved, day2, 2, "batch")


# --- first payment rounding ----------------------------------------------------------------------


def test_quarter_cents_reproduce_python_round_for_every_amount():
    """python_quarter_cents equals round(amount * 0.25, 2) for every cent amount 0.01..400.00."""
    cents = list(range(1, 40_001))
    amounts = pl.DataFrame({"amount": [c / 100 for c in cents]})
    got = amounts.select(contracts.python_quarter_cents(pl.col("amount")))["amount"].to_list()
    expected = [round(round((c / 100) * 0.25, 2) * 100) for c in cents]
    assert got == expected
    # a plain decimal half-up rule would not pass: the test has ties that go both ways
    ties = [c for c in cents if c % 4 == 2]
    assert {expected[c - 1] - c // 4 for c in ties} == {0, 1}


def test_record_id_from_fast_path_is_reported(day_records: list[bytes]):
    """A contract failure's quarantine row carries the record's _record_id."""
    records, at = mutate(day_records, {}, currency="EUR")
    row = prepare(records).quarantine.row(0, named=True)
    assert row["record_id"] == json.loads(records[at])["_record_id"]


def test_unknown_field_constants_are_not_invented():
    """Every constant the contract checks is one of record.CONSTANTS (no drift between the two)."""
    schema = contracts.Transactions.to_schema()
    constants = {
        name: check.statistics["value"]
        for name, column in schema.columns.items()
        for check in column.checks
        if check.name == "equal_to"
    }
    assert constants == record.CONSTANTS


def test_one_pass_screen_agrees_with_pandera_on_a_clean_day(day_records: list[bytes]):
    """The single-query screen passes the clean day that Pandera itself validates, for all three
    tables, so a clean day is not validated check by check."""
    prepared = prepare(day_records)
    schema = contracts.transactions_schema(DAY)
    assert contracts.passes(prepared.transactions, schema)
    schema.validate(prepared.transactions, lazy=True)
    for model, frame in [
        (contracts.Customers, prepared.customers),
        (contracts.Quarantine, prepare([*day_records, b"{"]).quarantine),
    ]:
        assert contracts.passes(frame, model.to_schema())
        model.validate(frame, lazy=True)


def test_one_pass_screen_rejects_what_pandera_rejects(day_records: list[bytes]):
    """A frame with a failing row fails the screen, and Pandera names the failure."""
    good = prepare(day_records[:20]).transactions
    bad = good.with_columns(
        pl.when(pl.col("_record_id") == good["_record_id"][3])
        .then(pl.lit("EUR"))
        .otherwise(pl.col("currency"))
        .alias("currency")
    )
    schema = contracts.transactions_schema(DAY)
    assert not contracts.passes(bad, schema)
    with pytest.raises(pandera.errors.SchemaErrors):
        schema.validate(bad, lazy=True)


def _ledger_row() -> dict[str, object]:
    """A clean ledger row, as :func:`bnpl.ingest.ledger_row` writes one."""
    at = datetime(2024, 11, 29, 12, tzinfo=UTC)
    return {
        "batch_id": "b" * normalize.KEY_HEX_DIGITS, "transaction_date": DAY,
        "source_url": "http://127.0.0.1:1", "generator": "bnpl", "request_body": "{}",
        "request_seed": 42, "identity_scope": "batch", "expected_records": 3,
        "records_received": 3, "records_loaded": 2, "records_quarantined": 1,
        "customers_loaded": 2, "customers_changed_attributes": 0, "unknown_fields": None,
        "content_sha256": "0" * 64, "status": "loaded", "attempts": 1, "started_at": at,
        "fetched_at": at, "finished_at": at + timedelta(seconds=1), "flow_run_id": None,
        "bnpl_version": "1",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"records_loaded": 3}, "received_is_loaded_plus_quarantined"),
        ({"started_at": datetime(2024, 11, 30, tzinfo=UTC)}, "timestamps_in_order"),
    ],
)
def test_one_pass_screen_covers_dataframe_level_checks(change: dict[str, object], rule: str):
    """The ledger's rules over several columns are screened in the same pass (a clean row is not
    validated check by check) and a row breaking one fails the screen and names the rule."""
    schema = contracts.SourceBatches.to_schema()
    columns = contracts.polars_schema("source_batches")
    row = _ledger_row()
    assert set(row) == set(columns)
    clean = pl.DataFrame([row], schema=columns)
    assert contracts.passes(clean, schema)
    contracts.check_ledger_row(row)
    broken = {**row, **change}
    assert not contracts.passes(pl.DataFrame([broken], schema=columns), schema)
    with pytest.raises(ContractError, match=rule):
        contracts.check_ledger_row(broken)


def test_every_parse_problem_of_a_line_is_listed(day_records: list[bytes]):
    """A line with a missing key and a float in an int field lists both in failures."""
    obj = json.loads(day_records[0])
    del obj["currency"]
    obj["installment_count"] = 4.5
    row = prepare([dumps(obj), *day_records[1:]]).quarantine.row(0, named=True)
    failures = json.loads(row["failures"])
    assert [(f["check"], f["column"]) for f in failures] == [
        ("required_field", "currency"),
        ("type", "installment_count"),
    ]
    assert (row["check_name"], row["column_name"]) == ("required_field", "currency")


def test_a_check_over_several_expressions_is_left_to_pandera():
    """A dataframe-level check that selects more than one expression is not captured: the screen
    answers "cannot screen" (False) and Pandera, which folds the columns, decides."""
    import pandera.polars as pa

    schema = pa.DataFrameSchema(
        {"a": pa.Column(int), "b": pa.Column(int)},
        checks=[pa.Check(lambda data: data.lazyframe.select(pl.col("a") > 0, pl.col("b") > 0))],
    )
    frame = pl.DataFrame({"a": [1, 2], "b": [3, 4]})
    assert not contracts.passes(frame, schema)
    schema.validate(frame)
    with pytest.raises(pandera.errors.SchemaError):
        schema.validate(frame.with_columns(b=pl.Series([3, -4])))

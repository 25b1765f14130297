"""bnpl.normalize: parsing a day's records, stable keys, customer de-duplication."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from bnpl import normalize, record
from bnpl.normalize import LINE

LOADED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def frame_records(body: bytes) -> list[bytes]:
    """Split a simtom body into records (the real framer lives in bnpl.source)."""
    return [event.removeprefix(b"data: ") for event in body.split(b"\n\n") if event]


@pytest.fixture(scope="module")
def records(captured_body: bytes) -> list[bytes]:
    return frame_records(captured_body)


def dumps(obj: dict[str, Any]) -> bytes:
    """simtom's own serialisation (json.dumps defaults)."""
    return json.dumps(obj).encode()


def edit(raw: bytes, **changes: Any) -> bytes:
    obj = json.loads(raw)
    obj.update(changes)
    return dumps(obj)


def drop(raw: bytes, key: str) -> bytes:
    obj = json.loads(raw)
    del obj[key]
    return dumps(obj)


# --- keys ----------------------------------------------------------------------------------------


def test_stable_key_is_truncated_sha256_of_unit_separated_parts():
    """A key is the first 32 hex digits of SHA-256 over the parts joined by U+001F."""
    expected = hashlib.sha256(b"a\x1fb\x1fc").hexdigest()[:32]
    assert normalize.stable_key("a", "b", "c") == expected


def test_key_expr_matches_python_key_for_any_text():
    """The vectorised key equals the Python key, including non-ASCII and empty parts."""
    parts = [("txn_00000001", "x"), ("ünïcødé ✓", ""), ("", "")]
    frame = pl.DataFrame({"a": [p[0] for p in parts], "b": [p[1] for p in parts]})
    got = frame.select(normalize.key_expr("batch", pl.col("a"), pl.col("b")))["literal"]
    assert got.to_list() == [normalize.stable_key("batch", a, b) for a, b in parts]


def test_key_expr_is_null_when_a_part_is_null():
    """A null part gives a null key, never a key of the word 'null'."""
    frame = pl.DataFrame({"a": ["x", None]})
    assert frame.select(normalize.key_expr(pl.col("a")))["a"].to_list()[1] is None


def test_batch_id_ignores_key_order_and_whitespace_of_the_body():
    """The same request written in any key order has one batch id."""
    body = {"start_date": "2024-11-29", "end_date": "2024-11-29", "seed": 7, "base_daily_volume": 9}
    reordered = dict(reversed(list(body.items())))
    assert normalize.batch_id("sim", body) == normalize.batch_id("sim", reordered)
    assert len(normalize.batch_id("sim", body)) == 32


def test_batch_id_changes_with_source_and_with_body():
    """Another source or another body is another batch."""
    body = {"start_date": "2024-11-29", "end_date": "2024-11-29", "seed": 7}
    base = normalize.batch_id("sim", body)
    assert normalize.batch_id("http://other:8000", body) != base
    assert normalize.batch_id("sim", {**body, "seed": 8}) != base


def test_identity_scope_of_reads_stable_customer_ids():
    """Only a literal true asks for source-scoped customers."""
    assert normalize.identity_scope_of({"stable_customer_ids": True}) == "source"
    assert normalize.identity_scope_of({"stable_customer_ids": "yes"}) == "batch"
    assert normalize.identity_scope_of({}) == "batch"


def test_source_scope_ignores_the_day_seed_but_not_the_universe():
    """Stable ids are scoped to source and universe; the per-day seed does not split them."""
    day1 = {"seed": 1, "stable_customer_ids": True, "customer_universe_seed": 5}
    day2 = {**day1, "seed": 2}
    other = {**day1, "customer_universe_seed": 6}

    def scope(body: dict[str, Any], scope: normalize.IdentityScope = "source") -> str:
        bid = normalize.batch_id("sim", body)
        return normalize.customer_scope(scope, batch_id=bid, source_identity="sim", body=body)

    assert scope(day1) == scope(day2)
    assert scope(day1) != scope(other)
    assert scope(day1, "batch") != scope(day2, "batch")


# --- parsing -------------------------------------------------------------------------------------


def test_parse_reads_every_captured_record_with_its_values(records: list[bytes]):
    """The 686 real records parse to typed rows equal to what json.loads reads."""
    parsed = normalize.parse_records(records)
    assert parsed.rejections == () and parsed.unknown_fields == ()
    assert parsed.frame.height == 686
    assert parsed.frame[LINE].to_list() == list(range(686))
    expected = [json.loads(r) for r in records]
    for name in record.FIELDS:
        want = [obj.get(name) for obj in expected]
        assert parsed.frame[name].to_list() == want, name
    assert parsed.frame.schema == pl.Schema(
        {**normalize.READ_SCHEMA, LINE: pl.UInt32, "extra": pl.String}
    )


def test_parse_does_not_depend_on_key_order(records: list[bytes]):
    """Records with shuffled keys give the same frame (fields are read by name)."""
    rng = random.Random(3)
    shuffled = []
    for raw in records:
        items = list(json.loads(raw).items())
        rng.shuffle(items)
        shuffled.append(dumps(dict(items)))
    assert normalize.parse_records(shuffled).frame.equals(normalize.parse_records(records).frame)


def test_parse_accepts_compact_json(records: list[bytes]):
    """Records without spaces after separators parse the same way."""
    compact = [json.dumps(json.loads(r), separators=(",", ":")).encode() for r in records[:50]]
    assert normalize.parse_records(compact).frame.equals(
        normalize.parse_records(records[:50]).frame
    )


@pytest.mark.parametrize(
    ("bad", "check", "column"),
    [
        (b'{"transaction_id": "txn_0000', "json_parse", None),
        (b"", "framing", None),
        (b"   ", "framing", None),
        (b"[1, 2]", "json_parse", None),
        (b'{"a": NaN}', "json_parse", None),
        (b'{"amount": 1, "amount": 2}', "duplicate_key", "amount"),
        (b'{"customer_id": "\xff"}', "json_parse", None),
    ],
)
def test_unparseable_line_is_rejected_alone(records: list[bytes], bad: bytes, check: str, column):
    """A broken line is rejected with its check; every other line still parses."""
    day = [*records[:10], bad, *records[10:20]]
    parsed = normalize.parse_records(day)
    assert [(r.line, r.check, r.column) for r in parsed.rejections] == [(10, check, column)]
    assert parsed.frame[LINE].to_list() == [*range(10), *range(11, 21)]


def test_record_with_line_break_is_rejected_as_framing(records: list[bytes]):
    """A record spanning two lines cannot be one NDJSON row: framing, not a misaligned read."""
    broken = records[1].replace(b', "currency"', b',\n"currency"')
    parsed = normalize.parse_records([records[0], broken, records[2]])
    assert [(r.line, r.check) for r in parsed.rejections] == [(1, "framing")]
    assert parsed.frame["transaction_id"].to_list() == ["txn_00000000", "txn_00000002"]


def test_missing_required_field_is_rejected_with_its_name(records: list[bytes]):
    """A record without a required key is rejected as required_field on that key."""
    parsed = normalize.parse_records([records[0], drop(records[1], "currency"), records[2]])
    (rejection,) = parsed.rejections
    assert (rejection.line, rejection.check, rejection.column) == (1, "required_field", "currency")
    assert rejection.record_id == 1
    assert parsed.frame.height == 2


def test_renamed_nullable_field_is_missing_not_null(records: list[bytes]):
    """A nullable field under a new name is a missing key plus an unknown one, not a null."""
    at = next(i for i, r in enumerate(records) if json.loads(r)["will_default"] is False)
    obj = json.loads(records[at])
    obj["days_to_default"] = obj.pop("days_to_first_missed_payment")
    parsed = normalize.parse_records([dumps(obj)])
    (rejection,) = parsed.rejections
    assert (rejection.check, rejection.column) == ("required_field", "days_to_first_missed_payment")
    assert parsed.unknown_fields == ("days_to_default",)


def test_a_renamed_required_field_is_missing_and_unknown(records: list[bytes]):
    """A non-nullable field under a new name (one key missing, one unknown: the key count still
    matches) is rejected as required_field, and the new name is reported as unknown."""
    obj = json.loads(records[0])
    obj["currency_code"] = obj.pop("currency")
    parsed = normalize.parse_records([dumps(obj), records[1]])
    (rejection,) = parsed.rejections
    assert (rejection.line, rejection.check, rejection.column) == (0, "required_field", "currency")
    assert parsed.unknown_fields == ("currency_code",)
    assert parsed.frame.height == 1


def test_escaped_quote_in_a_string_value_does_not_lose_the_row(records: list[bytes]):
    """A string value holding an escaped quote and a colon is checked exactly and still loads."""
    raw = edit(records[0], product_brand='Sephora ":x')
    parsed = normalize.parse_records([raw])
    assert parsed.rejections == ()
    assert parsed.frame["product_brand"].to_list() == ['Sephora ":x']


def test_absent_credit_utilization_is_not_missing(records: list[bytes]):
    """credit_utilization is optional: absent is null, not a rejection."""
    parsed = normalize.parse_records(records)
    scenarios = parsed.frame.group_by("risk_scenario").agg(
        pl.col("credit_utilization").null_count().alias("nulls"), pl.len()
    )
    stretched = scenarios.filter(pl.col("risk_scenario") == "credit_stretched")
    assert stretched["nulls"].item() == 0
    others = scenarios.filter(pl.col("risk_scenario") != "credit_stretched")
    assert (others["nulls"] == others["len"]).all()


def test_unknown_fields_are_kept_in_extra(records: list[bytes]):
    """Unknown keys go to extra as a sorted JSON object and are listed; the row is kept."""
    raw = edit(records[1], zeta=[1, 2], alpha={"k": "v"})
    parsed = normalize.parse_records([records[0], raw, records[2]])
    assert parsed.rejections == ()
    assert parsed.unknown_fields == ("alpha", "zeta")
    assert parsed.frame["extra"].to_list() == [None, '{"alpha":{"k":"v"},"zeta":[1,2]}', None]
    assert parsed.frame["transaction_id"][1] == "txn_00000001"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("installment_count", 4.0),
        ("installment_count", 4.26886),
        ("payment_credit_limit", "2500"),
        ("will_default", 1.0),
        ("will_default", 0),
        ("product_bnpl_eligible", "true"),
        ("amount", "117.12"),
        ("_record_id", 2**64),
    ],
)
def test_values_that_do_not_fit_their_type_are_rejected(
    records: list[bytes], field: str, value: Any
):
    """Floats in int or bool fields (even integral ones) and strings in numeric fields are
    rejected as type errors, never coerced into the typed column."""
    parsed = normalize.parse_records([records[0], edit(records[1], **{field: value}), records[2]])
    (rejection,) = parsed.rejections
    assert (rejection.line, rejection.check, rejection.column) == (1, "type", field)
    assert parsed.frame.height == 2


def test_integer_in_float_field_is_widened(records: list[bytes]):
    """An integer where a float belongs is exact, so it is read as that float."""
    parsed = normalize.parse_records([edit(records[0], amount=117)])
    assert parsed.rejections == ()
    assert parsed.frame["amount"].to_list() == [117.0]


def test_non_string_in_string_field_is_read_as_its_text(records: list[bytes]):
    """A number in a string field arrives as text (the contract's pattern check rejects it)."""
    parsed = normalize.parse_records([edit(records[0], customer_id=5)])
    assert parsed.rejections == ()
    assert parsed.frame["customer_id"].to_list() == ["5"]


def test_null_is_read_as_null_for_the_contract_to_judge(records: list[bytes]):
    """null in a non-nullable field is not a parse error; it reaches the contract as null."""
    parsed = normalize.parse_records([edit(records[0], amount=None)])
    assert parsed.rejections == ()
    assert parsed.frame["amount"].to_list() == [None]


def test_one_bad_line_in_a_large_day_keeps_the_rest_typed(records: list[bytes]):
    """With a bad value deep in a day of several chunks, only that line is rejected."""
    day = [edit(records[i % len(records)], _record_id=i) for i in range(3000)]
    day[2500] = edit(day[2500], cart_abandonment_count=1.5)
    parsed = normalize.parse_records(day)
    assert [(r.line, r.check, r.column) for r in parsed.rejections] == [
        (2500, "type", "cart_abandonment_count")
    ]
    assert parsed.frame.height == 2999
    assert parsed.frame["_record_id"].to_list() == [i for i in range(3000) if i != 2500]


def test_polars_has_the_last_word_on_a_line_it_cannot_read():
    """A line that only the slow check accepted but Polars cannot type is rejected, not raised."""
    frames, rejections = normalize.parse._read_each([b'{"installment_count": 4.5}', b"{}"], [7, 8])
    assert [(r.line, r.check) for r in rejections] == [(7, "type")]
    assert [f[LINE].to_list() for f in frames] == [[8]]


def test_empty_day_parses_to_an_empty_typed_frame():
    """No records: an empty frame with the full schema."""
    parsed = normalize.parse_records([])
    assert parsed.frame.height == 0
    assert parsed.frame.schema == pl.Schema(
        {**normalize.READ_SCHEMA, LINE: pl.UInt32, "extra": pl.String}
    )


# --- shaping and customers -----------------------------------------------------------------------

COLUMNS = [
    "transaction_key",
    "transaction_date",
    "transaction_ts",
    "batch_id",
    "customer_key",
    "amount_cents",
    *record.FIELDS,
    "extra",
    "loaded_at",
]


def shape(records: list[bytes], scope: str = "batch\x1fb") -> pl.DataFrame:
    parsed = normalize.parse_records(records)
    return normalize.shape_transactions(
        parsed.frame, batch_id="b" * 32, customer_scope=scope, loaded_at=LOADED_AT, columns=COLUMNS
    )


def test_shape_derives_cents_time_and_keys(records: list[bytes]):
    """amount_cents, transaction_ts/date and keys follow from the record, row by row."""
    shaped = shape(records)
    objs = [json.loads(r) for r in records]
    assert shaped["amount_cents"].to_list() == [round(o["amount"] * 100) for o in objs]
    assert shaped["transaction_ts"].to_list() == [
        datetime.fromisoformat(o["_timestamp"]) for o in objs
    ]
    assert shaped["transaction_date"].to_list() == [
        date.fromisoformat(o["_timestamp"][:10]) for o in objs
    ]
    assert shaped["transaction_key"].to_list() == [
        normalize.stable_key("b" * 32, o["transaction_id"]) for o in objs
    ]
    fingerprints = [
        normalize.stable_key(*(str(o[a]) for a in record.CUSTOMER_ATTRIBUTES)) for o in objs
    ]
    assert shaped["attribute_fingerprint"].to_list() == fingerprints
    assert shaped["customer_key"].to_list() == [
        normalize.stable_key("batch", "b", o["customer_id"], fp)
        for o, fp in zip(objs, fingerprints, strict=True)
    ]
    assert shaped.columns == [*COLUMNS, LINE, "attribute_fingerprint"]
    assert shaped["loaded_at"].dtype == pl.Datetime("us", "UTC")


def test_dedupe_customers_counts_and_first_last_seen(records: list[bytes]):
    """One row per customer with its transaction count and first/last timestamps."""
    customers = normalize.dedupe_customers(
        shape(records),
        day=date(2024, 11, 28),
        identity_scope="batch",
        columns=["customer_id", "transaction_count", "first_seen_ts", "last_seen_ts"],
    )
    seen: dict[str, list[datetime]] = defaultdict(list)
    for raw in records:
        obj = json.loads(raw)
        seen[obj["customer_id"]].append(datetime.fromisoformat(obj["_timestamp"]))
    assert customers.height == len(seen)
    got = {r[0]: r[1:] for r in customers.rows()}
    assert got == {cid: (len(ts), min(ts), max(ts)) for cid, ts in seen.items()}


def test_changed_attributes_split_a_customer_id_into_keys(records: list[bytes]):
    """A customer id seen with two attribute sets is two keys, both flagged as changed."""
    objs = [json.loads(r) for r in records]
    counts: dict[str, int] = defaultdict(int)
    for o in objs:
        counts[o["customer_id"]] += 1
    repeated = next(cid for cid, n in counts.items() if n >= 3)
    last = max(i for i, o in enumerate(objs) if o["customer_id"] == repeated)
    objs[last]["customer_state"] = "ZZ" if objs[last]["customer_state"] != "ZZ" else "AK"
    customers = normalize.dedupe_customers(
        shape([dumps(o) for o in objs]),
        day=date(2024, 11, 28),
        identity_scope="batch",
        columns=["customer_id", "customer_key", "transaction_count", "attributes_changed"],
    )
    mine = customers.filter(pl.col("customer_id") == repeated)
    assert mine.height == 2
    assert mine["attributes_changed"].to_list() == [True, True]
    assert sorted(mine["transaction_count"].to_list()) == [1, counts[repeated] - 1]
    assert customers.filter(pl.col("customer_id") != repeated)["attributes_changed"].sum() == 0

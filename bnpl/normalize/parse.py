"""Parsing: one day's records (JSON text) to a typed frame, and a reason for every line that is
not a record (see :mod:`bnpl.normalize` for what a line must be)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from bnpl import record

READ_SCHEMA = pl.Schema(
    {
        name: {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean}[kind]
        for name, kind in record.FIELDS.items()
    }
)
"""Polars types of the record's fields as parsed (before keys and derived columns)."""

IN_MEMORY: Final = "in-memory"
"""Polars engine for a day's lazy queries (a few thousand rows, run by several fetch threads at
once): the in-memory engine costs less CPU than the default, which picks the streaming engine
(docs/decisions.md, "A year's backfill in less CPU")."""

LINE = "_line"
"""Helper column: 0-based position of the record in the response (``line_number`` - 1)."""

_CHUNK_LINES = 1024
_BUFFER_LINES = 4096
_KEY_MARK = '":'
_TEXT = "_text"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# --- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One reason a line is not a valid record."""

    check: str
    column: str | None
    message: str


@dataclass(frozen=True)
class Rejection:
    """Why one line did not become a row: its problems, the first one first."""

    line: int
    problems: tuple[Problem, ...]
    record_id: int | None = None

    @property
    def check(self) -> str:
        return self.problems[0].check

    @property
    def column(self) -> str | None:
        return self.problems[0].column


def _reject(line: int, check: str, column: str | None, message: str) -> Rejection:
    return Rejection(line, (Problem(check, column, message),))


@dataclass(frozen=True)
class ParsedRecords:
    """The typed rows of a day and the lines that could not be typed.

    Attributes:
        frame: one row per accepted line, in stream order: every field of :data:`READ_SCHEMA`
            (an absent ``credit_utilization`` is null), :data:`LINE` and ``extra``.
        rejections: lines that are not a typed record, in stream order.
        unknown_fields: sorted names of keys outside the contract, seen on any line.
    """

    frame: pl.DataFrame
    rejections: tuple[Rejection, ...] = ()
    unknown_fields: tuple[str, ...] = field(default=())


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        names = [k for k, _ in pairs]
        raise _DuplicateKeyError(next(k for k in names if names.count(k) > 1))
    return obj


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _type_error(kind: record.JsonKind, value: Any) -> str | None:
    """Why ``value`` cannot be stored in a column of ``kind`` without loss, or None."""
    if kind == "str" or value is None:
        return None
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = type(value) is int and _INT64_MIN <= value <= _INT64_MAX
    else:  # float: a finite number; an integer only when the double holds it exactly
        ok = (type(value) is float and math.isfinite(value)) or (
            type(value) is int and abs(value) <= 2**53
        )
    if ok:
        return None
    return f"{kind} field holds {json.dumps(value, separators=(',', ':'))[:80]}"


@dataclass(frozen=True)
class LineCheck:
    """The exact verdict on one line: a rejection, or the unknown fields it carries."""

    rejection: Rejection | None
    extra: str | None = None
    unknown: tuple[str, ...] = ()


def check_line(line: int, raw: bytes) -> LineCheck:
    """Check one record with the standard ``json`` module (the slow, exact path)."""
    if not raw.strip():
        return LineCheck(_reject(line, "framing", None, "empty record"))
    if b"\n" in raw:  # NDJSON holds one record per line; the fast reader cannot take this one
        return LineCheck(_reject(line, "framing", None, "record contains a line break"))
    try:
        obj = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_not_json_constant
        )
    except _DuplicateKeyError as exc:
        return LineCheck(_reject(line, "duplicate_key", str(exc), f"key {exc} appears twice"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return LineCheck(_reject(line, "json_parse", None, f"not valid JSON: {exc}"))
    if not isinstance(obj, dict):
        message = f"a JSON {type(obj).__name__}, not an object"
        return LineCheck(_reject(line, "json_parse", None, message))
    problems = [
        Problem("required_field", name, f"missing key {name}")
        for name in record.REQUIRED
        if name not in obj
    ]
    for name, value in obj.items():
        kind = record.FIELDS.get(name)
        problem = None if kind is None else _type_error(kind, value)
        if problem is not None:
            problems.append(Problem("type", name, problem))
    unknown = {k: v for k, v in obj.items() if k not in record.FIELDS}
    names = tuple(sorted(unknown))
    if problems:
        rid = obj.get("_record_id")
        record_id = rid if type(rid) is int and _INT64_MIN <= rid <= _INT64_MAX else None
        return LineCheck(Rejection(line, tuple(problems), record_id), None, names)
    extra = json.dumps(unknown, sort_keys=True, separators=(",", ":")) if unknown else None
    return LineCheck(None, extra, names)


_READ_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException)


def _read(lines: Sequence[bytes], index: Sequence[int]) -> pl.DataFrame:
    """Typed read of ``lines`` (one record each), with :data:`LINE`; raises if any line is off.

    Read :data:`_BUFFER_LINES` records at a time: a few-MB buffer is reused by the allocator,
    where one day-sized buffer costs a page fault per 4 KiB (a large share of the read time on a large buffer).
    """
    frame = pl.concat(
        [
            pl.read_ndjson(b"\n".join(lines[at : at + _BUFFER_LINES]), schema=READ_SCHEMA)
            for at in range(0, len(lines), _BUFFER_LINES)
        ]
    )
    if frame.height != len(lines):  # a record held a line break: rows no longer match lines
        raise pl.exceptions.ComputeError(f"{frame.height} rows from {len(lines)} records")
    return frame.with_columns(pl.Series(LINE, index, pl.UInt32))


def _read_chunked(
    lines: Sequence[bytes], index: Sequence[int]
) -> tuple[list[pl.DataFrame], list[int]]:
    """Read all lines at once; if that fails, chunk by chunk. Returns the frames read and the
    lines of the chunks that failed (for :func:`check_line`)."""
    try:
        return [_read(lines, index)], []
    except _READ_ERRORS:
        pass
    frames: list[pl.DataFrame] = []
    failed: list[int] = []
    for at in range(0, len(lines), _CHUNK_LINES):
        part, part_index = lines[at : at + _CHUNK_LINES], index[at : at + _CHUNK_LINES]
        try:
            frames.append(_read(part, part_index))
        except _READ_ERRORS:
            failed.extend(part_index)
    return frames, failed


def _read_each(
    lines: Sequence[bytes], index: Sequence[int]
) -> tuple[list[pl.DataFrame], list[Rejection]]:
    """Read lines :func:`check_line` passed: at once, else one by one. Polars has the last word:
    a line it still cannot read is rejected with its message."""
    try:
        return [_read(lines, index)], []
    except _READ_ERRORS:
        pass
    frames: list[pl.DataFrame] = []
    rejections: list[Rejection] = []
    for raw, i in zip(lines, index, strict=True):
        try:
            frames.append(_read([raw], [i]))
        except _READ_ERRORS as exc:
            rejections.append(_reject(i, "type", None, f"unreadable: {exc}"[:300]))
    return frames, rejections


def _odd_keys(records: Sequence[bytes], frame: pl.DataFrame) -> list[int]:
    """Lines of ``frame`` (read fine) whose keys may not be exactly the contract's.

    A clean line has one ``":`` per key (44, plus ``credit_utilization`` when it is not null)
    and the text ``"<name>":`` of each nullable required key. Every non-null typed value proves
    its key present, so a line passing both whose non-nullable fields are not null has exactly
    the required keys, no unknown key and no repeated key; a line with a null non-nullable field
    goes to the exact check too (a missing key and an unknown one would balance the count). (Inside a JSON string every ``"`` is
    escaped, so ``"<name>":`` there is impossible; an escaped quote before a colon in a string
    value only adds to the count and sends the line to the exact check.) Rows with a null
    non-nullable field are rejected by the contract anyway.
    """
    if frame.is_empty():
        return []
    raw = pl.Series(_TEXT, records, dtype=pl.Binary)
    if frame.height != len(records):
        raw = raw.gather(frame[LINE])
    text = pl.col(_TEXT)
    expected = len(record.REQUIRED) + pl.col("credit_utilization").is_not_null().cast(pl.UInt32)
    ok = text.str.count_matches(_KEY_MARK, literal=True) == expected
    for name in sorted(record.NULLABLE - record.OPTIONAL):
        ok = ok & text.str.contains(f'"{name}":', literal=True)
    # a missing key read as null can hide an unknown key in the count: check such lines exactly
    ok = ok & pl.all_horizontal(
        pl.col(sorted(set(record.REQUIRED) - record.NULLABLE)).is_not_null()
    )
    # one lazy query: Polars splits the text scan over its threads (an eager one runs on one)
    odd = (
        frame.hstack([raw.cast(pl.String, strict=False)])  # invalid UTF-8 -> null -> exact check
        .lazy()
        .filter(~ok.fill_null(False))
        .select(LINE)
        .collect(engine=IN_MEMORY)
    )
    return odd[LINE].to_list()


def parse_records(records: Sequence[bytes]) -> ParsedRecords:
    """Parse one response's records into typed rows; never raises on bad content."""
    empty = {i for i, r in enumerate(records) if not r or r.isspace()}
    index = [i for i in range(len(records)) if i not in empty] if empty else range(len(records))
    lines = [records[i] for i in index] if empty else records
    frames, unread = _read_chunked(lines, index) if lines else ([], [])
    frame = pl.concat(frames) if frames else _EMPTY_READ
    odd = _odd_keys(records, frame)  # read fine, but maybe an unknown, missing or repeated key
    checks = {i: check_line(i, records[i]) for i in sorted({*empty, *unread, *odd})}
    rejections = [c.rejection for c in checks.values() if c.rejection is not None]
    rejected = {r.line for r in rejections}
    if rejected:
        frame = frame.filter(~pl.col(LINE).is_in(sorted(rejected)))
    late = [i for i in unread if i not in rejected]
    if late:
        more, refused = _read_each([records[i] for i in late], late)
        frame = pl.concat([frame, *more]).sort(LINE)
        rejections += refused
    extras = {i: c.extra for i, c in checks.items() if c.extra is not None and i not in rejected}
    unknown = sorted({name for c in checks.values() for name in c.unknown})
    return ParsedRecords(
        _with_extra(frame, extras),
        tuple(sorted(rejections, key=lambda r: r.line)),
        tuple(unknown),
    )


def _with_extra(frame: pl.DataFrame, extras: Mapping[int, str]) -> pl.DataFrame:
    if not extras:
        return frame.with_columns(extra=pl.lit(None, pl.String))
    side = pl.DataFrame(
        {LINE: list(extras), "extra": list(extras.values())},
        schema={LINE: pl.UInt32, "extra": pl.String},
    )
    return frame.join(side, on=LINE, how="left", maintain_order="left")


_EMPTY_READ = pl.DataFrame(schema={**READ_SCHEMA, LINE: pl.UInt32})

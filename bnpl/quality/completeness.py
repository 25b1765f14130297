"""Completeness, freshness and volume checks, computed from the daily profile.

Every function takes a :class:`CheckContext` and returns an :class:`Outcome`; day lists in the
details are capped at a few examples, worst first where there is an order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from bnpl.quality.base import Outcome
from bnpl.quality.context import CheckContext
from bnpl.warehouse.names import QUARANTINE, TRANSACTIONS

EXAMPLES = 5


def _n_days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _days(frame: pl.DataFrame) -> str:
    days = [d.isoformat() for d in frame["day"].head(EXAMPLES).to_list()]
    more = frame.height - len(days)
    return ", ".join(days) + (f" and {more} more" if more > 0 else "")


def ledger_days_present(ctx: CheckContext) -> Outcome:
    """Every day of the range has a ledger row."""
    missing = ctx.in_range.filter(~pl.col("has_ledger"))
    days = ctx.in_range.height
    if missing.height:
        details = (
            f"{missing.height} of {days} days have no ledger row: {_days(missing)}; backfill them"
        )
    else:
        details = f"all {days} days are in the ledger"
    return Outcome("fail" if missing.height else "pass", float(missing.height), 0.0, details)


def transactions_days_present(ctx: CheckContext) -> Outcome:
    """Every day of the range has transactions in the warehouse."""
    empty = ctx.in_range.filter(pl.col("transactions") == 0)
    days = ctx.in_range.height
    if empty.height:
        details = f"{empty.height} of {days} days have no transactions: {_days(empty)}"
    else:
        details = f"all {days} days have transactions"
    return Outcome("fail" if empty.height else "pass", float(empty.height), 0.0, details)


@dataclass(frozen=True, slots=True)
class CountsMatchLedger:
    """The warehouse's rows per day equal the ledger's count for the day.

    Attributes:
        observed: daily-profile column counted in the warehouse.
        ledger: the ledger column it must equal.
    """

    observed: str
    ledger: str

    def __call__(self, ctx: CheckContext) -> Outcome:
        days = ctx.in_range.filter(pl.col("has_ledger"))
        wrong = days.filter(pl.col(self.observed) != pl.col(self.ledger)).with_columns(
            gap=(pl.col(self.observed) - pl.col(self.ledger)).abs()
        )
        if wrong.height == 0:
            return Outcome(
                "pass", 0.0, 0.0, f"{self.observed} equals {self.ledger} on all {days.height} days"
            )
        worst = wrong.sort("gap", descending=True).head(EXAMPLES)
        examples = ", ".join(
            f"{r['day']}: {r[self.observed]} vs {r[self.ledger]}"
            for r in worst.iter_rows(named=True)
        )
        return Outcome(
            "fail",
            float(wrong.height),
            0.0,
            f"{_n_days(wrong.height)} where {self.observed} differs from the ledger's {self.ledger}: "
            f"{examples}; reload those days",
        )


def ledger_counts_add_up(ctx: CheckContext) -> Outcome:
    """The ledger's received count is loaded + quarantined on every day."""
    days = ctx.in_range.filter(pl.col("has_ledger"))
    wrong = days.filter(
        pl.col("records_received") != pl.col("records_loaded") + pl.col("records_quarantined")
    )
    if wrong.height == 0:
        return Outcome(
            "pass", 0.0, 0.0, f"received = loaded + quarantined on all {days.height} days"
        )
    return Outcome(
        "fail",
        float(wrong.height),
        0.0,
        f"{_n_days(wrong.height)} where received != loaded + quarantined: {_days(wrong)}",
    )


def quarantine_rate(ctx: CheckContext) -> Outcome:
    """Each day's quarantined share of received records stays under the threshold."""
    limit = ctx.settings.quarantine_rate_max
    days = ctx.in_range.filter(
        pl.col("has_ledger") & (pl.col("records_received") > 0)
    ).with_columns(rate=pl.col("records_quarantined") / pl.col("records_received"))
    if days.height == 0:
        return Outcome("skip", None, limit, "no ledger rows with received records in the range")
    worst = days.sort("rate", descending=True)
    top = float(worst["rate"][0])
    over = worst.filter(pl.col("rate") > limit)
    if over.height == 0:
        return Outcome(
            "pass", top, limit, f"highest daily quarantine rate {top:.3%} on {worst['day'][0]}"
        )
    examples = ", ".join(
        f"{r['day']}: {r['rate']:.2%}" for r in over.head(EXAMPLES).iter_rows(named=True)
    )
    return Outcome(
        "fail",
        top,
        limit,
        f"{_n_days(over.height)} quarantined more than {limit:.2%} of their records: {examples}; "
        f"see {QUARANTINE} for the reasons",
    )


def latest_gate_by_day(runs: pl.DataFrame) -> pl.DataFrame:
    """Each day the gate runs ``runs`` (``results/gate_runs``) covered: ``day``, and the
    ``run_id`` and ``blocked`` of the newest run that covered it."""
    return (
        runs.with_columns(
            day=pl.date_ranges(pl.col("range_start"), pl.col("range_end"), interval="1d")
        )
        .explode("day")
        .sort("checked_at", "run_id")
        .group_by("day")
        .agg(pl.col("run_id", "blocked").last())
    )


def earlier_blocks_resolved(ctx: CheckContext) -> Outcome:
    """No day outside the range is still blocked: a day whose latest gate run failed an
    error-level check (this one included: a day that could not publish is not in the marts
    either) keeps every later gate from publishing until a run that covers it passes.

    Without this, a rejected day D stays in the raw and intermediate tables, and the next day's
    passing run would publish it inside the marts rebuilt from every day (training set, risk
    features), although no passing check ever covered D.
    """
    runs = ctx.query("results/gate_runs")
    if runs.is_empty():
        return Outcome("pass", 0.0, 0.0, "no earlier gate runs")
    latest = latest_gate_by_day(runs)
    blocked = latest.filter(pl.col("blocked") & ~pl.col("day").is_between(ctx.start, ctx.end)).sort(
        "day"
    )
    if blocked.is_empty():
        return Outcome("pass", 0.0, 0.0, "no day outside the range is blocked by an earlier run")
    runs_named = ", ".join(sorted(set(blocked["run_id"].head(EXAMPLES).to_list())))
    days = blocked["day"].to_list()
    first, last = min(days[0], ctx.start), max(days[-1], ctx.end)
    return Outcome(
        "fail",
        float(blocked.height),
        0.0,
        f"{_n_days(blocked.height)} outside {ctx.start}..{ctx.end} failed their latest gate run "
        f"({runs_named}) and have not passed since: {_days(blocked)}. Their rows are in the "
        "tables every mart is rebuilt from, so nothing is published until they pass: fix them "
        "(reload with `bnpl backfill --force`), then gate them with this run's days: "
        f"`bnpl check --start {first} --end {last}`",
    )


def freshness(ctx: CheckContext) -> Outcome:
    """The newest loaded day is at most ``freshness_max_lag_days`` before the logical date."""
    limit = float(ctx.settings.freshness_max_lag_days)
    newest = ctx.newest_loaded_day
    if newest is None:
        return Outcome("fail", None, limit, "the ledger is empty: nothing has been loaded")
    lag = (ctx.logical_date - newest).days
    details = f"newest loaded day {newest}, logical date {ctx.logical_date}: lag {lag} days"
    return Outcome("fail" if lag > limit else "pass", float(lag), limit, details)


def volume_vs_expected(ctx: CheckContext) -> Outcome:
    """Each day's arrived records (loaded + quarantined) match the source's expected volume:
    exactly (within ``volume_tolerance``) for seeded requests, inside the noise band otherwise.
    A sealed live day has no volume model (:func:`live_rows_match_seal` covers it)."""
    days = ctx.in_range.filter(pl.col("modelled")).with_columns(
        deviation=pl.col("arrived") / pl.col("expected") - 1.0,
        outside=~pl.col("arrived").is_between(pl.col("band_lo"), pl.col("band_hi")),
    )
    if days.height == 0:
        return Outcome("skip", None, 0.0, "no ledger rows from the source in the range")
    seeded = int(days["seeded"].sum())
    wrong = days.filter(pl.col("outside")).sort(pl.col("deviation").abs(), descending=True)
    basis = f"{seeded} seeded days (exact), {days.height - seeded} unseeded (noise band)"
    worst = float(days["deviation"].abs().to_numpy().max())
    return _by_day(
        wrong,
        f"all {days.height} days as expected; {basis}; worst deviation {worst:+.2%}",
        lambda r: (
            f"{r['day']}: {r['arrived']} vs expected {r['expected']} "
            f"[{r['band_lo']}, {r['band_hi']}] ({r['deviation']:+.1%})"
        ),
        lambda examples: (
            f"{wrong.height} of {days.height} days outside the expected volume: {examples}; {basis}"
        ),
    )


@dataclass(frozen=True, slots=True)
class MartMatchesRaw:
    """A mart holds, for every day of the range, exactly the raw transactions of the day.

    Attributes:
        model: the mart (read in the run's marts dataset: the audit area while gating).
        count_column: None to count the mart's rows per day; else a per-day count column of a
            one-row-per-day mart (which must then have exactly one row per day).
    """

    model: str
    count_column: str | None = None

    def __call__(self, ctx: CheckContext) -> Outcome:
        relation = ctx.relation(self.model)
        if self.count_column is None:
            mart = ctx.query("metrics/daily_rows", {"relation": relation})
            rows = mart.select("day", rows=pl.lit(1, dtype=pl.Int64))
        else:
            per_row = ctx.query(
                "metrics/daily_column", {"relation": relation, "column": self.count_column}
            )
            mart = per_row.group_by("day").agg(pl.col("n").sum())
            rows = per_row.group_by("day").agg(rows=pl.len().cast(pl.Int64))
        days = (
            ctx.in_range.select("day", "transactions")
            .join(mart.rename({"n": "mart"}), on="day", how="left")
            .join(rows, on="day", how="left")
            .with_columns(pl.col("mart").fill_null(0).cast(pl.Int64), pl.col("rows").fill_null(0))
        )
        expected_rows = 0 if self.count_column is None else 1
        wrong = days.filter(
            (pl.col("mart") != pl.col("transactions"))
            | ((pl.col("rows") != expected_rows) if expected_rows else pl.lit(False))
        )
        what = "rows" if self.count_column is None else self.count_column
        return _by_day(
            wrong,
            f"{self.model} {what} equal the raw transactions on all {days.height} days",
            lambda r: (
                f"{r['day']}: {r['mart']} vs {r['transactions']} raw"
                + (f" ({r['rows']} rows)" if expected_rows and r["rows"] != 1 else "")
            ),
            lambda examples: (
                f"{_n_days(wrong.height)} where {self.model} {what} differ from {TRANSACTIONS}: "
                f"{examples}"
            ),
        )


def live_rows_match_seal(ctx: CheckContext) -> Outcome:
    """Every sealed live day of the range holds exactly its live rows and dead letters: the raw
    transactions equal the live table's rows of the day, the ledger's quarantined count its dead
    letters (an event that arrived after the seal makes the day stale: seal it again)."""
    live = ctx.in_range.filter(pl.col("has_ledger") & pl.col("live").fill_null(False))
    if live.height == 0:
        return Outcome("pass", 0.0, 0.0, "no sealed live days in the range: nothing to compare")
    rows = ctx.query("metrics/live_daily", {"dead_letters": False}).rename({"n": "live_rows"})
    dead = ctx.query("metrics/live_daily", {"dead_letters": True}).rename({"n": "dead"})
    days = (
        live.join(rows, on="day", how="left")
        .join(dead, on="day", how="left")
        .with_columns(pl.col("live_rows", "dead").fill_null(0).cast(pl.Int64))
    )
    wrong = days.filter(
        (pl.col("live_rows") != pl.col("transactions"))
        | (pl.col("dead") != pl.col("records_quarantined"))
    )
    return _by_day(
        wrong,
        f"all {days.height} sealed live days hold exactly their live rows and dead letters",
        lambda r: (
            f"{r['day']}: {r['transactions']} sealed vs {r['live_rows']} live rows, "
            f"{r['records_quarantined']} vs {r['dead']} dead letters"
        ),
        lambda examples: (
            f"{_n_days(wrong.height)} changed since their seal: {examples}; seal them again "
            "(bnpl live seal --date D)"
        ),
    )


def _by_day(
    wrong: pl.DataFrame,
    passed: str,
    example: Callable[[dict[str, Any]], str],
    failed: Callable[[str], str],
) -> Outcome:
    """The outcome of a per-day comparison: ``passed`` when no day is ``wrong``; else a failure
    counting the wrong days, its details ``failed`` given the first :data:`EXAMPLES` days, each
    written by ``example``."""
    if wrong.height == 0:
        return Outcome("pass", 0.0, 0.0, passed)
    examples = ", ".join(example(r) for r in wrong.head(EXAMPLES).iter_rows(named=True))
    return Outcome("fail", float(wrong.height), 0.0, failed(examples))

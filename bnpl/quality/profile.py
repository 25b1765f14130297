"""The daily profile: one row per calendar day with what was loaded and what the source should
have sent.

Observed counts come from the warehouse (transactions, quarantine and customers tables) and the
ledger; expectations come from :mod:`bnpl.calendar`'s model of simtom's per-day volume
(contract §3.1), for the request the ledger recorded: exact when the request was seeded, a noise
band otherwise. Pure: frames in, frame out.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from bnpl.calendar import (
    day_type,
    holiday_name,
    iter_days,
    source_count_band,
    source_dow_factor,
    source_multiplier,
    source_volume_band,
)
from bnpl.quality.stats import family_sigmas
from bnpl.warehouse.names import LIVE_SOURCE

SIMTOM_DEFAULT_BASE_VOLUME = 1000
"""simtom's ``base_daily_volume`` when a request body leaves it out (contract §1.2)."""

_LEDGER_COUNTS = (
    "records_received",
    "records_loaded",
    "records_quarantined",
    "customers_loaded",
    "customers_changed_attributes",
)


def calendar_frame(start: date, end: date) -> pl.DataFrame:
    """Every day from ``start`` to ``end`` inclusive with bnpl's day type and simtom's factors."""
    days = list(iter_days(start, end))
    return pl.DataFrame(
        {
            "day": days,
            "weekday": [d.weekday() for d in days],
            "day_type": [day_type(d) for d in days],
            "holiday": [holiday_name(d) for d in days],
            "dow_factor": [source_dow_factor(d) for d in days],
            "multiplier": [source_multiplier(d) for d in days],
        },
        schema={
            "day": pl.Date,
            "weekday": pl.Int8,
            "day_type": pl.String,
            "holiday": pl.String,
            "dow_factor": pl.Float64,
            "multiplier": pl.Float64,
        },
    ).with_columns(weekend=pl.col("weekday") >= 5)


def daily_profile(
    *,
    start: date,
    end: date,
    window_start: date,
    ledger: pl.DataFrame,
    transactions: pl.DataFrame,
    quarantine: pl.DataFrame,
    customers: pl.DataFrame,
    volume_tolerance: float,
    band_sigmas: float,
) -> pl.DataFrame:
    """Join the day's counts with its expectation, for every day of ``window_start..end``.

    Args:
        start, end: the checked range (``in_range`` marks it); ``window_start`` ≤ ``start``.
        ledger: ``bnpl_raw.source_batches`` rows (``day`` plus the ledger columns); a row whose
            ``source_url`` is ``live`` (a sealed live day) gets no expectation.
        transactions, quarantine: ``day``, ``n`` per day.
        customers: ``day``, ``customer_rows``, ``customer_ids``, ``changed_ids`` per day.
        volume_tolerance: relative tolerance of a seeded day's count (0: exact).
        band_sigmas: noise band of unseeded days, family-wise over the range's unseeded days.

    Returns:
        one row per day; ``arrived`` = transactions + quarantined rows in the warehouse;
        ``modelled``: the day has a ledger row from the source, so the volume model applies
        (false for a sealed live day and for a day without a ledger row);
        ``expected`` (exact when seeded, else the noise-free median) and ``band_lo``/``band_hi``
        (the inclusive band the volume check applies: ``expected`` ± tolerance when seeded, the
        noise band otherwise), ``model_lo``/``model_hi`` (the noise band of the volume model,
        seeded or not) and ``noise_free`` (base × multiplier) are null on days without a ledger
        row.
    """
    cal = calendar_frame(window_start, end)
    live = pl.col("source_url") == LIVE_SOURCE
    ledger = ledger.with_columns(
        # a sealed live day has no volume model: its expectation columns stay null
        base_volume=pl.when(live)
        .then(None)
        .otherwise(
            pl.col("request_body")
            .str.json_path_match("$.base_daily_volume")
            .cast(pl.Int64, strict=False)
            .fill_null(SIMTOM_DEFAULT_BASE_VOLUME)
        ),
        live=live,
        seeded=pl.col("request_seed").fill_null(0) != 0,
    ).unique("day", keep="last")
    frame = (
        cal.join(ledger, on="day", how="left")
        .join(transactions.rename({"n": "transactions"}), on="day", how="left")
        .join(quarantine.rename({"n": "quarantined_rows"}), on="day", how="left")
        .join(customers, on="day", how="left")
        .with_columns(
            pl.col(
                "transactions", "quarantined_rows", "customer_rows", "customer_ids", "changed_ids"
            )
            .fill_null(0)
            .cast(pl.Int64),
            has_ledger=pl.col("batch_id").is_not_null(),
            modelled=pl.col("base_volume").is_not_null(),
            in_range=pl.col("day").is_between(start, end),
        )
        .with_columns(arrived=pl.col("transactions") + pl.col("quarantined_rows"))
    )
    unseeded = frame.filter(pl.col("in_range") & pl.col("has_ledger") & ~pl.col("seeded")).height
    return _with_expectation(frame, volume_tolerance, family_sigmas(band_sigmas, unseeded))


def _with_expectation(frame: pl.DataFrame, tolerance: float, sigmas: float) -> pl.DataFrame:
    # one calendar computation per day (at most a few hundred), not per record
    columns: dict[str, list[int | None]] = {
        k: [] for k in ("expected", "band_lo", "band_hi", "model_lo", "model_hi")
    }
    for day, base, seeded, seed in frame.select(
        "day", "base_volume", "seeded", "request_seed"
    ).iter_rows():
        if base is None:
            for values in columns.values():
                values.append(None)
            continue
        model_lo, model_hi = source_volume_band(int(base), day, sigmas)
        columns["model_lo"].append(model_lo)
        columns["model_hi"].append(model_hi)
        expected, lo, hi = source_count_band(
            int(base), day, int(seed) if seeded else None, tolerance=tolerance, sigmas=sigmas
        )
        columns["expected"].append(expected)
        columns["band_lo"].append(lo)
        columns["band_hi"].append(hi)
    return frame.with_columns(
        *(pl.Series(name, values, dtype=pl.Int64) for name, values in columns.items()),
        noise_free=pl.col("base_volume").cast(pl.Float64) * pl.col("multiplier"),
    ).with_columns(pl.col(c).cast(pl.Int64) for c in _LEDGER_COUNTS)

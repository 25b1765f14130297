"""Statistical pattern checks: the weekend dip and the holiday spikes and troughs.

Both compare what arrived with what simtom's volume model (contract §3.1, reproduced in
:mod:`bnpl.calendar`) predicts for the same days, so no ratio is a magic number. The model's
per-day noise is log-normal with σ = 0.1 (:data:`bnpl.calendar.SOURCE_NOISE_SIGMA`); the bands
below are that noise propagated to the compared means, ``noise_band_sigmas`` wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import polars as pl

from bnpl.calendar import SOURCE_NOISE_SIGMA
from bnpl.quality.base import Outcome
from bnpl.quality.context import CheckContext
from bnpl.quality.stats import log_band

TRACKED_HOLIDAYS = ("Thanksgiving Day", "Black Friday", "Cyber Monday", "Christmas Day")
"""Holiday names (as :func:`bnpl.calendar.holiday_name` spells them) the holiday checks judge;
they are also kept out of each other's baselines."""


def weekend_ratio_frame(daily: pl.DataFrame) -> pl.DataFrame:
    """Days usable for the weekend dip with their DOW-normalised volume.

    Keeps loaded, non-holiday days that the volume model covers (not sealed live days); ``normalised`` = arrived / (base × WOM × MOY × EVENT), which
    the source makes equal to DOW × noise.
    """
    return daily.filter(
        pl.col("modelled") & (pl.col("arrived") > 0) & (pl.col("day_type") != "holiday")
    ).with_columns(
        normalised=pl.col("arrived")
        * pl.col("dow_factor")
        / (pl.col("base_volume").cast(pl.Float64) * pl.col("multiplier"))
    )


def weekend_dip(ctx: CheckContext) -> Outcome:
    """Weekend mean volume is below the weekday mean by the ratio of simtom's DOW factors.

    Observed: mean normalised weekend volume / mean normalised weekday volume. Expected: the same
    ratio of the DOW factors of those days. Passes when the observed ratio is inside the noise
    band around the expected one and shows a dip of at least ``weekend_dip_min_ratio``.
    """
    days = weekend_ratio_frame(ctx.in_range)
    weekend = days.filter(pl.col("weekend"))
    weekday = days.filter(~pl.col("weekend"))
    if weekend.height == 0 or weekday.height == 0:
        return Outcome(
            "skip",
            None,
            None,
            f"the range has {weekend.height} weekend and {weekday.height} weekday non-holiday "
            "days with data; the dip needs both",
        )
    observed = _mean(weekend, "normalised") / _mean(weekday, "normalised")
    expected = _mean(weekend, "dow_factor") / _mean(weekday, "dow_factor")
    log_sd = SOURCE_NOISE_SIGMA * math.sqrt(1 / weekend.height + 1 / weekday.height)
    lo, hi = log_band(expected, log_sd, ctx.settings.noise_band_sigmas)
    dip_limit = 1.0 - ctx.settings.weekend_dip_min_ratio
    upper = min(hi, dip_limit)
    ok = lo <= observed <= upper
    details = (
        f"weekend/weekday volume ratio {observed:.3f}, expected {expected:.3f} from simtom's "
        f"day-of-week factors (band [{lo:.3f}, {upper:.3f}], {weekend.height} weekend and "
        f"{weekday.height} weekday days)"
    )
    if not ok:
        details += "; the weekend dip is " + (
            "too deep" if observed < lo else "missing or too shallow"
        )
    return Outcome("pass" if ok else "fail", observed, upper if observed > lo else lo, details)


def _mean(frame: pl.DataFrame, column: str) -> float:
    return float(frame[column].to_numpy().mean()) if frame.height else 0.0


@dataclass(frozen=True, slots=True)
class HolidayEffect:
    """A holiday's volume is above (spike) or below (trough) its surrounding baseline.

    The baseline is the mean volume of the ``holiday_window_days`` days on each side (other
    tracked holidays excluded); the expected ratio is the model's for the same days. Evaluated
    only when the range contains the holiday.

    Attributes:
        holiday: the holiday's name as :func:`bnpl.calendar.holiday_name` gives it.
        direction: ``spike`` (must be above the baseline) or ``trough`` (below).
    """

    holiday: str
    direction: Literal["spike", "trough"]

    def __call__(self, ctx: CheckContext) -> Outcome:
        daily = ctx.daily
        dates = ctx.in_range.filter(pl.col("holiday") == self.holiday)["day"].to_list()
        if not dates:
            return Outcome("skip", None, None, f"the range contains no {self.holiday}")
        window = ctx.settings.holiday_window_days
        findings: list[str] = []
        judged: list[tuple[bool, float, float]] = []  # (ok, observed, bound) per occurrence
        for day in dates:
            this = daily.filter((pl.col("day") == day) & pl.col("modelled"))
            around = daily.filter(
                pl.col("day").is_between(day - timedelta(days=window), day + timedelta(days=window))
                & (pl.col("day") != day)
                & ~pl.col("holiday").is_in(TRACKED_HOLIDAYS).fill_null(False)
                & pl.col("modelled")
                & (pl.col("arrived") > 0)
            )
            if this.height == 0 or around.height < 2:
                findings.append(f"{day}: not enough loaded days around it")
                continue
            observed = float(this["arrived"][0]) / _mean(around, "arrived")
            expected = float(this["noise_free"][0]) / _mean(around, "noise_free")
            log_sd = SOURCE_NOISE_SIGMA * math.sqrt(1 + 1 / around.height)
            lo, hi = log_band(expected, log_sd, ctx.settings.noise_band_sigmas)
            if self.direction == "spike":
                bound = max(lo, 1.0)
                ok = bound < observed <= hi
            else:
                bound = min(hi, 1.0)
                ok = lo <= observed < bound
            judged.append((ok, observed, bound))
            findings.append(
                f"{day}: {observed:.2f}x its {around.height}-day baseline, expected {expected:.2f}x "
                f"(band [{lo:.2f}, {hi:.2f}])" + ("" if ok else " - FAILED")
            )
        summary = f"{self.holiday} {self.direction}: " + "; ".join(findings)
        if not judged:
            return Outcome("skip", None, None, summary)
        failing = [j for j in judged if not j[0]]
        _, observed, bound = failing[0] if failing else judged[0]
        return Outcome("fail" if failing else "pass", observed, bound, summary)

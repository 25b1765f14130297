"""Drift checks: the population stability index (PSI) of key features per day against the
trailing window, and the share of customer ids whose attributes changed inside a batch."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from bnpl.quality.base import Level, Outcome
from bnpl.quality.context import CheckContext
from bnpl.quality.stats import quantile_groups, trailing_psi
from bnpl.warehouse.names import TRANSACTIONS

NUMERIC_FEATURES = ("amount", "risk_score")
"""Features binned into quantile groups of the pooled window; others are categorical."""

EXAMPLES = 5


def bin_groups(histogram: pl.DataFrame, feature: str, bins: int) -> pl.DataFrame:
    """Map each fine bin of ``histogram`` (``day, bin, n``) to a PSI group.

    Numeric features: fine bins in numeric order merged into ``bins`` quantile groups of the
    pooled counts. Categorical features: one group per value, in sorted order.
    """
    pooled = histogram.group_by("bin").agg(pl.col("n").sum())
    if feature in NUMERIC_FEATURES:
        pooled = pooled.with_columns(order=pl.col("bin").cast(pl.Int64)).sort("order")
        mapping = quantile_groups(pooled["bin"], pooled["n"], bins)
    else:
        mapping = {b: i for i, b in enumerate(sorted(pooled["bin"].drop_nulls().to_list()))}
    return pl.DataFrame(
        {"bin": list(mapping), "group": list(mapping.values())},
        schema={"bin": pl.String, "group": pl.Int64},
    )


def psi_series(ctx: CheckContext, feature: str, model: str = str(TRANSACTIONS)) -> pl.DataFrame:
    """PSI of ``feature`` for every day of the range against its trailing window.

    Returns ``day, psi, rows, reference_rows, reference_days``; ``psi`` is null on days that are
    not scored (too few rows, or too few loaded days in the window).
    """
    histogram = ctx.histogram(feature, model).with_columns(pl.col("bin").cast(pl.String))
    groups = bin_groups(histogram, feature, ctx.settings.psi_bins)
    grouped = (
        histogram.join(groups, on="bin", how="inner")
        .group_by("day", "group")
        .agg(pl.col("n").sum().cast(pl.Int64))
    )
    return trailing_psi(
        grouped,
        days=ctx.in_range["day"].to_list(),
        window=ctx.settings.drift_window_days,
        min_reference_days=ctx.settings.drift_min_reference_days,
        min_rows=ctx.settings.drift_min_day_rows,
    )


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Each day's distribution of ``feature`` is stable against the trailing window: PSI under
    ``psi_warn`` passes, up to ``psi_error`` warns, above it fails.

    Attributes:
        feature: ``amount``, ``risk_score`` or ``product_category``.
        model: the table read.
    """

    feature: str
    model: str = str(TRANSACTIONS)

    def __call__(self, ctx: CheckContext) -> Outcome:
        warn, error = ctx.settings.psi_warn, ctx.settings.psi_error
        series = psi_series(ctx, self.feature, self.model)
        scored = series.filter(pl.col("psi").is_not_null()).sort("psi", descending=True)
        if scored.height == 0:
            return Outcome(
                "skip",
                None,
                error,
                f"no day of the range has {ctx.settings.drift_min_day_rows}+ rows and "
                f"{ctx.settings.drift_min_reference_days}+ loaded days in its "
                f"{ctx.settings.drift_window_days}-day window",
            )
        top = scored.row(0, named=True)
        worst = float(top["psi"])
        over_warn = scored.filter(pl.col("psi") > warn)
        level: Level = "fail" if worst > error else "warn" if worst > warn else "pass"
        details = (
            f"{self.feature}: highest daily PSI {worst:.3f} on {top['day']} "
            f"({top['rows']} rows vs {top['reference_rows']} in the trailing "
            f"{top['reference_days']} days); {scored.height} of {series.height} days scored, "
            f"{over_warn.height} above {warn}"
        )
        if over_warn.height:
            details += ": " + ", ".join(
                f"{r['day']} {r['psi']:.3f}" for r in over_warn.head(EXAMPLES).iter_rows(named=True)
            )
        return Outcome(level, worst, error if level == "fail" else warn, details)


def changed_attribute_share(ctx: CheckContext) -> Outcome:
    """The share of a day's customer ids whose attributes changed inside the batch stays under
    ``changed_attribute_share_warn`` (simtom re-creates evicted customers, contract §4.3)."""
    limit = ctx.settings.changed_attribute_share_warn
    days = ctx.in_range.filter(pl.col("customer_ids") > 0).with_columns(
        share=pl.col("changed_ids") / pl.col("customer_ids")
    )
    if days.height == 0:
        return Outcome("skip", None, limit, "no customers in the range")
    worst = days.sort("share", descending=True)
    top = float(worst["share"][0])
    total = int(days["changed_ids"].sum())
    details = (
        f"highest daily share {top:.2%} on {worst['day'][0]}; {total} customer ids changed "
        f"attributes over {days.height} days"
    )
    return Outcome("fail" if top > limit else "pass", top, limit, details)

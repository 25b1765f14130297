"""Which days a model saw and which days a comparison may use: pure date arithmetic.

A model trained as of ``D`` saw the *train* split of the training set as of ``D`` (its first to
its last ``transaction_date``): its training window, recorded on the model version. Promotion
compares two models on the most recent days whose outcomes are all known as of the comparison's
as-of date ``P`` and that neither model saw:

* fully matured: a purchase on day ``t`` matures at ``t + 14 days × installment_count`` (end of
  day at the latest); simtom's longest plan has 6 instalments, so every purchase of day ``t`` has
  matured by the end of ``P`` when ``t + 84 days <= P``;
* out of time: every day of the window is after the last day of every training window.

The window is the last :attr:`ModelSettings.evaluation_window_days` such days, shorter when a
training window ends less than that before the matured edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from bnpl.errors import ConfigError

MAX_INSTALLMENTS = 6
"""The longest plan simtom sells (``installment_count`` is 4 or 6, contract §12)."""
DAYS_PER_INSTALLMENT = 14
MAX_TERM_DAYS = DAYS_PER_INSTALLMENT * MAX_INSTALLMENTS
"""Days from a purchase until its last instalment falls due and its label is final."""


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """The days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a window ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        """How many days the window spans."""
        return (self.end - self.start).days + 1

    def overlaps(self, other: Window) -> bool:
        """Whether the two windows share a day."""
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def matured_through(as_of: date) -> date:
    """The last day every purchase of which has a final label by the end of ``as_of``."""
    return as_of - timedelta(days=MAX_TERM_DAYS)


def evaluation_window(as_of: date, trained: Sequence[Window], days: int) -> Window:
    """The most recent window of at most ``days`` fully matured days after every window in
    ``trained``.

    Raises:
        ConfigError: no such day exists as of ``as_of`` (a training window reaches the matured
            edge, or ``as_of`` is too early).
    """
    if days < 1:
        raise ConfigError(f"the evaluation window needs at least 1 day, got {days}")
    end = matured_through(as_of)
    start = end - timedelta(days=days - 1)
    if trained:
        seen = max(w.end for w in trained)
        start = max(start, seen + timedelta(days=1))
    if start > end:
        last = max(w.end for w in trained)
        raise ConfigError(
            f"no out-of-time outcomes as of {as_of}: purchases are fully matured only through "
            f"{end} ({MAX_TERM_DAYS} days earlier) and a model trained on days through {last}; "
            f"load more days and compare as of {last + timedelta(days=MAX_TERM_DAYS + 1)} or later"
        )
    return Window(start, end)


def matured(frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The rows of ``frame`` (``transaction_ts``, ``installment_count``) whose label is final by
    the end of ``as_of``: ``transaction_ts`` + 14 days x ``installment_count`` before ``as_of`` +
    1 day 00:00 (the rule of ``mart_bnpl_ml_training_set``'s ``label_matures_ts``)."""
    edge = datetime.combine(as_of + timedelta(days=1), time())
    due = pl.col("transaction_ts") + pl.duration(
        days=pl.col("installment_count") * DAYS_PER_INSTALLMENT
    )
    return frame.filter(due < pl.lit(edge))

"""What the checks of one gate run read: the warehouse, the range, the settings, and the shared
frames (the daily profile, feature histograms), each queried once per run."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import polars as pl

from bnpl.calendar import check_range
from bnpl.quality.assertions import CompiledSql, compile_template, relation_name
from bnpl.quality.profile import daily_profile
from bnpl.settings import QualitySettings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import AUDIT, QUARANTINE, TRANSACTIONS

logger = logging.getLogger(__name__)


class CheckContext:
    """The inputs of every check in one run, with lazily queried, cached shared frames.

    Args:
        warehouse: where to read.
        settings: the quality thresholds.
        start, end: the checked days, inclusive.
        logical_date: the run's logical date (freshness is measured against it).
        marts_dataset: where ``ref('mart_…')`` points: the audit area while gating.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        settings: QualitySettings,
        *,
        start: date,
        end: date,
        logical_date: date,
        marts_dataset: str = AUDIT,
        built: Sequence[str] | None = None,
    ) -> None:
        check_range(start, end)
        self.warehouse = warehouse
        self.settings = settings
        self.start = start
        self.end = end
        self.logical_date = logical_date
        self.marts_dataset = marts_dataset
        self.built = None if built is None else frozenset(built)
        self.window_start = start - timedelta(days=settings.drift_window_days)
        self._histograms: dict[str, pl.DataFrame] = {}

    # --- SQL ----------------------------------------------------------------------------------

    def relation(self, model: str) -> str:
        """BigQuery-dialect name of a model: ``dataset.table`` as given, a bare name in the marts
        dataset of this run (the audit area while gating)."""
        dataset, _, table = model.partition(".")
        if table:
            return relation_name(self.warehouse, dataset, table)
        return relation_name(self.warehouse, self.marts_dataset, model)

    def has_model(self, model: str) -> bool:
        """Whether a check of ``model`` can run: tables named ``dataset.table`` always (a missing
        one is an error of the check); a mart when this run built it (or, with ``built`` None,
        when it exists in the marts dataset)."""
        if "." in model:
            return True
        if self.built is not None:
            return model in self.built
        return self.warehouse.table_exists(self.marts_dataset, model)

    @property
    def params(self) -> dict[str, Any]:
        """Parameters every template may use: ``@start_date``, ``@end_date`` (the checked
        range), ``@window_start`` (start of the trailing drift window), ``@logical_date``."""
        return {
            "start_date": self.start,
            "end_date": self.end,
            "window_start": self.window_start,
            "logical_date": self.logical_date,
        }

    def render(self, template: str, variables: Mapping[str, Any] | None = None) -> CompiledSql:
        """Render ``sql/assertions/<template>.sql`` for this warehouse's dialect."""
        return compile_template(
            self.warehouse, template, variables, marts_dataset=self.marts_dataset
        )

    def query(
        self,
        template: str,
        variables: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> pl.DataFrame:
        """Render a template and run it with the standard parameters plus ``params``."""
        compiled = self.render(template, variables)
        return self.warehouse.query(compiled.sql, compiled.bind({**self.params, **(params or {})}))

    # --- shared frames ------------------------------------------------------------------------

    @cached_property
    def ledger(self) -> pl.DataFrame:
        """Ledger rows of ``window_start..end``."""
        return self.query("metrics/ledger")

    @cached_property
    def daily(self) -> pl.DataFrame:
        """The daily profile of ``window_start..end`` (see :func:`daily_profile`)."""
        raw = {"relation": self.relation(str(TRANSACTIONS))}
        quarantine = {"relation": self.relation(str(QUARANTINE))}
        return daily_profile(
            start=self.start,
            end=self.end,
            window_start=self.window_start,
            ledger=self.ledger,
            transactions=self.query("metrics/daily_rows", raw),
            quarantine=self.query("metrics/daily_rows", quarantine),
            customers=self.query("metrics/daily_customers"),
            volume_tolerance=self.settings.volume_tolerance,
            band_sigmas=self.settings.noise_band_sigmas,
        )

    @cached_property
    def in_range(self) -> pl.DataFrame:
        """The daily profile restricted to the checked range."""
        return self.daily.filter(pl.col("in_range"))

    @cached_property
    def newest_loaded_day(self) -> date | None:
        """The newest day in the ledger, whatever the range."""
        value = self.query("metrics/newest_loaded_day")["newest"].item()
        return value if isinstance(value, date) else None

    def histogram(self, feature: str, model: str = str(TRANSACTIONS)) -> pl.DataFrame:
        """Fine-bin counts ``day, bin, n`` of ``feature`` over ``window_start..end``."""
        key = f"{model}:{feature}"
        if key not in self._histograms:
            self._histograms[key] = self.query(
                "metrics/histogram", {"feature": feature, "relation": self.relation(model)}
            )
        return self._histograms[key]


def loaded_range(warehouse: Warehouse) -> tuple[date, date] | None:
    """First and last day in the ledger, or None when nothing is loaded."""
    warehouse.ensure_schema()
    compiled = compile_template(warehouse, "metrics/ledger_range")
    frame = warehouse.query(compiled.sql, compiled.bind({}))
    first, last = frame["first_day"].item(), frame["last_day"].item()
    if not isinstance(first, date) or not isinstance(last, date):
        return None
    return first, last

"""What a model is: its declared config and columns, and the project of all models.

Built by :func:`bnpl.models.project.load_project`; everything here is validated data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.models.graph import select
from bnpl.warehouse import names

LAYERS: dict[str, str] = {
    "staging": names.INTERMEDIATE,
    "intermediate": names.INTERMEDIATE,
    "marts": names.MARTS,
}
"""Model folder -> the dataset its tables are built in (marts go to ``bnpl_audit`` while audited)."""

SOURCES: dict[str, str] = {"raw": names.RAW}
"""``source(name, table)`` -> dataset; tables must be declared under ``schemas/<dataset>/``."""

TYPES: tuple[str, ...] = (
    "STRING",
    "INT64",
    "FLOAT64",
    "NUMERIC",
    "BOOL",
    "DATE",
    "DATETIME",
    "TIMESTAMP",
)
"""Column types a model may declare (BigQuery names)."""

RUN_PARAMETERS: tuple[str, ...] = ("start_date", "end_date")
"""Parameters every build binds: the days being built, inclusive (DATE)."""

Materialized = Literal["view", "table", "incremental"]
Strategy = Literal["view", "table", "replace_range", "merge"]


@dataclass(frozen=True, slots=True)
class ColumnDoc:
    """A declared result column.

    Attributes:
        name: column name.
        type: BigQuery type, one of :data:`TYPES`.
        description: what the value means (units, time zone, how derived).
        nullable: whether NULL is expected; ``nullable=False`` (or the test ``'not_null'``) is
            checked by the quality gate.
        references: ``model.column`` this column is a foreign key to (``references=`` or the test
            ``{'relationships': 'model.column'}``), checked by the gate.
        unique: the test ``'unique'``: no value occurs twice (within the checked days, on a
            partitioned model); not inherited by ``columns_from``.
        accepted_values: the test ``{'accepted_values': [...]}``: the only values allowed (NULL
            is not one of them).

    A mart's declarations become quality checks (:mod:`bnpl.quality.declared`).
    """

    name: str
    type: str
    description: str
    nullable: bool = True
    references: str | None = None
    unique: bool = False
    accepted_values: tuple[str | int | float | bool, ...] | None = None


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What a template's ``config(...)`` declares.

    Attributes:
        materialized: ``view`` (no parameters), ``table`` (rebuilt from every loaded day each run)
            or ``incremental`` (rebuilds only what the run's days change; see :attr:`strategy`).
        description: purpose of the model.
        grain: what one row is.
        partition_by: DATE column; an incremental model with one replaces the run's days.
        cluster_by: clustering columns (BigQuery; at most four).
        unique_key: the primary key columns.
        active_between: ``(first, last)`` DATE columns of a merge model: a row whose span overlaps
            the run's days is replaced (see :mod:`bnpl.models.compile`).
        parameters: extra ``@name`` parameters the model reads, bound by the caller of the build.
        lookback_days: a partitioned model whose rows depend on the N days before them (rolling
            windows): building days ``s..e`` replaces ``s..e+N`` (up to the last loaded day), so
            a reloaded past day also corrects the windows after it. The daily run, whose day is
            the last loaded one, still replaces one day.
    """

    materialized: Materialized
    description: str
    grain: str
    partition_by: str | None = None
    cluster_by: tuple[str, ...] = ()
    unique_key: tuple[str, ...] = ()
    active_between: tuple[str, str] | None = None
    parameters: tuple[str, ...] = ()
    lookback_days: int = 0

    @property
    def strategy(self) -> Strategy:
        """How an existing table is updated: ``replace_range`` (delete the run's days, insert) or
        ``merge`` (replace the rows of changed keys); ``view`` and ``table`` are rebuilt whole."""
        if self.materialized == "incremental":
            return "replace_range" if self.partition_by else "merge"
        return self.materialized


@dataclass(frozen=True)
class Model:
    """One validated model template.

    Attributes:
        name: the file stem; unique across folders.
        layer: ``staging``, ``intermediate`` or ``marts``.
        path: the template file.
        relpath: the path shown in messages (``sql/marts/x.sql``).
        config: its declared config.
        columns: its declared result columns, in table order.
        refs: models it reads through ``ref()``.
        sources: ``(source, table)`` pairs it reads through ``source()``.
        uses_this: it reads its own previous table through ``this``.
        uses_holidays: it reads ``calendar_holidays()``.
        parameters: the ``@name`` parameters it uses.
        rendered: the rendered BigQuery SQL, with placeholders.
        tree: ``rendered`` parsed (copy before changing it).
    """

    name: str
    layer: str
    path: Path
    relpath: str
    config: ModelConfig
    columns: tuple[ColumnDoc, ...]
    refs: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    uses_this: bool
    uses_holidays: bool
    parameters: frozenset[str]
    rendered: str
    tree: exp.Expr

    @property
    def dataset(self) -> str:
        """The dataset its table or view is published in."""
        return LAYERS[self.layer]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def where(self, line: int | None = None) -> str:
        """``model name (sql/x/name.sql:line)`` for messages."""
        return f"model {self.name} ({self.relpath}{f':{line}' if line else ''})"


@dataclass(frozen=True)
class Project:
    """Every model, in dependency order (parents first, ties by name).

    Attributes:
        sql_dir: the bundled models' folder.
        models: by name.
        user_dir: the ``models/`` folder of the user's project directory, if one was loaded.
    """

    sql_dir: Path
    models: Mapping[str, Model]
    user_dir: Path | None = None

    def model(self, name: str) -> Model:
        """The model called ``name``.

        Raises:
            ConfigError: no such model.
        """
        if name not in self.models:
            raise ConfigError(f"no model {name!r}; models: {', '.join(self.models)}")
        return self.models[name]

    def children(self, name: str) -> list[str]:
        """Models that ``ref()`` ``name``, in dependency order."""
        return [m.name for m in self.models.values() if name in m.refs]

    def order(self, selectors: Sequence[str] = ()) -> list[Model]:
        """The selected models (see :func:`bnpl.models.graph.select`) in dependency order."""
        chosen = select(selectors, {name: m.refs for name, m in self.models.items()})
        return [m for name, m in self.models.items() if name in chosen]

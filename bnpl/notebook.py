"""The notebook surface: read tables and query the warehouse into Polars, and run the pipeline's
verbs, each with the settings read from the environment unless given.

Days are ``"YYYY-MM-DD"`` strings or :class:`~datetime.date` values everywhere
(:func:`bnpl.calendar.parse_day`). SQL is written as the models are: BigQuery Standard SQL with
``{{ ref('model') }}``, ``{{ source('raw', 'table') }}`` or ``dataset.table`` names, transpiled by
the model runner's dialect layer (:mod:`bnpl.models.dialect`) for the configured warehouse;
values are ``@name`` parameters, bound, never pasted into the text.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, overload

import jinja2
import polars as pl
import sqlglot.errors
from sqlglot import exp

from bnpl.calendar import parse_day
from bnpl.errors import ConfigError
from bnpl.models import dialect
from bnpl.models.model import SOURCES, Project
from bnpl.models.project import load_project
from bnpl.models.render import REF_PREFIX, SOURCE_PREFIX
from bnpl.settings import Settings, load_settings
from bnpl.warehouse import Access, Warehouse
from bnpl.warehouse import open_warehouse as _open
from bnpl.warehouse.names import DATASETS
from bnpl.warehouse.read import split_name

if TYPE_CHECKING:
    from bnpl.ingest import IngestSummary
    from bnpl.pipeline import Published
    from bnpl.quality import GateResult

Day = str | date
"""A day as the notebook API accepts it: ``"2024-06-01"`` or ``date(2024, 6, 1)``."""


def open_warehouse(settings: Settings | None = None, *, access: Access = "create") -> Warehouse:
    """The configured warehouse (``BNPL_WAREHOUSE__*``), a context manager that closes it::

        with bnpl.open_warehouse() as wh:
            tx = bnpl.read_table("bnpl_raw.transactions", start="2024-06-01", warehouse=wh)

    ``access``: see :func:`bnpl.warehouse.open_warehouse`.
    """
    return _open(settings or load_settings(), access=access)


def _day(value: Day | None, name: str) -> date | None:
    return None if value is None else parse_day(value, name=name)


def _partition_of(name: str, settings: Settings) -> str | None:
    """The ``partition_by`` of the model whose table ``name`` is (marts also in the audit area),
    for warehouses that do not record partitioning (DuckDB)."""
    dataset, table = split_name(name)
    model = load_project(user_dir=settings.project.dir).models.get(table)
    if model is None or dataset not in (model.dataset, "bnpl_audit"):
        return None
    return model.config.partition_by


@overload
def read_table(
    name: str,
    columns: Sequence[str] | None = ...,
    start: Day | None = ...,
    end: Day | None = ...,
    lazy: Literal[False] = ...,
    *,
    settings: Settings | None = ...,
    warehouse: Warehouse | None = ...,
) -> pl.DataFrame: ...


@overload
def read_table(
    name: str,
    columns: Sequence[str] | None = ...,
    start: Day | None = ...,
    end: Day | None = ...,
    *,
    lazy: Literal[True],
    settings: Settings | None = ...,
    warehouse: Warehouse | None = ...,
) -> pl.LazyFrame: ...


def read_table(
    name: str,
    columns: Sequence[str] | None = None,
    start: Day | None = None,
    end: Day | None = None,
    lazy: bool = False,
    *,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Read ``dataset.table`` (``"bnpl_marts.mart_bnpl_transactions"``); a bare table name
    (``"live_transactions"``) is read from the one dataset that holds it.

    Args:
        columns: the columns to read (default: all); only these leave the warehouse.
        start, end: first and last day, inclusive (either may be omitted), filtered in the
            warehouse on the table's partition column: on BigQuery only those partitions are
            scanned and billed.
        lazy: return a :class:`polars.LazyFrame` over the rows read, to compose further.
        warehouse: an open warehouse (``with bnpl.open_warehouse() as wh``); default: open the
            configured one for this call.

    Raises:
        ConfigError: a bad name or day, an unknown table or column (the message lists what
            exists), a bare name that several datasets hold (the message names them), or days asked of a table with no partition column.
    """
    if isinstance(columns, Settings):  # the call of bnpl 0.1: read_table(name, settings)
        raise TypeError("read_table(name, settings) is now read_table(name, settings=settings)")
    first, last = _day(start, "start"), _day(end, "end")
    settings = settings or (None if warehouse is not None else load_settings())

    def read(wh: Warehouse) -> pl.DataFrame:
        full = wh.full_name(name)
        day_column = None
        if (first or last) and wh.dialect == "duckdb":
            day_column = _partition_of(full, settings or load_settings())
        return wh.read_table(full, columns, start=first, end=last, day_column=day_column)

    if warehouse is not None:
        frame = read(warehouse)
    else:
        assert settings is not None
        with open_warehouse(settings, access="existing") as wh:  # a read creates no file
            frame = read(wh)
    return frame.lazy() if lazy else frame


def query(
    sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
) -> pl.DataFrame:
    """Run one BigQuery-dialect ``SELECT`` on the configured warehouse and return its rows::

        bnpl.query(
            "SELECT risk_level, COUNT(*) AS n FROM {{ ref('mart_bnpl_transactions') }} "
            "WHERE transaction_date >= @since GROUP BY 1",
            {"since": date(2024, 6, 1)},
        )

    Tables are named ``{{ ref('model') }}`` (the published model), ``{{ source('raw', 'table') }}``,
    ``dataset.table`` (``bnpl_raw.transactions``), or a bare model name; ``@name`` parameters are
    bound from ``params``.

    Raises:
        ConfigError: the SQL does not parse or uses a construct the runner bans, a table or model
            is unknown, or ``params`` misses (or adds) a parameter.
        WarehouseError: the warehouse refused the query.
    """
    settings = settings or load_settings()
    project = load_project(user_dir=settings.project.dir)
    if warehouse is not None:
        return _run(sql, params or {}, project, warehouse)
    with open_warehouse(settings, access="existing") as wh:
        return _run(sql, params or {}, project, wh)


def _run(sql: str, params: Mapping[str, Any], project: Project, wh: Warehouse) -> pl.DataFrame:
    tree = _parse(_render(sql, project))
    for table in list(tree.find_all(exp.Table)):
        replacement = _relation(table, tree, project, wh)
        if replacement is not None:
            if table.args.get("alias") is not None:
                replacement.set("alias", table.args["alias"])
            table.replace(replacement)
    used = dialect.parameters(tree)
    missing, extra = sorted(used - set(params)), sorted(set(params) - used)
    if missing or extra:
        raise ConfigError(
            f"query parameters do not match: the SQL uses {sorted('@' + p for p in used)}; "
            f"params {'misses ' + str(missing) if missing else ''}"
            f"{' and ' if missing and extra else ''}{'adds unused ' + str(extra) if extra else ''}"
        )
    return wh.query(dialect.to_dialect(tree, wh.dialect, copy=False), dict(params))


def _render(sql: str, project: Project) -> str:
    def ref(model: str) -> str:
        if model not in project.models:
            raise ConfigError(f"ref({model!r}) names no model; models: {', '.join(project.models)}")
        return REF_PREFIX + model

    def source(name: str, table: str) -> str:
        if name not in SOURCES:
            raise ConfigError(f"source({name!r}, ...): sources are {', '.join(SOURCES)}")
        return f"{SOURCE_PREFIX}{name}__{table}"

    try:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(sql)
        return template.render(ref=ref, source=source)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"query template line {getattr(exc, 'lineno', '?')}: {exc}") from None


def _parse(sql: str) -> exp.Expr:
    try:
        tree = dialect.parse(sql)
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise ConfigError(
            f"query line {first.get('line', '?')}: {first.get('description', exc)}"
        ) from None
    except (ValueError, sqlglot.errors.SqlglotError) as exc:
        raise ConfigError(f"query: {exc}") from None
    banned = dialect.lint(tree, check_tables=False)
    if banned:
        messages = [
            "bnpl.query runs one SELECT" if v.message.startswith("a model is") else v.message
            for v in banned
        ]
        raise ConfigError(f"query: {'; '.join(messages)}")
    return tree


def _relation(
    table: exp.Table, tree: exp.Expr, project: Project, wh: Warehouse
) -> exp.Table | None:
    """The warehouse's table for one table name of a query, or None to leave it (a CTE)."""
    name, db = table.name, table.args.get("db")
    if not name:
        return None
    if table.args.get("catalog") is not None:
        raise ConfigError(
            f"query names {table.sql(dialect.READ)}: name tables as dataset.table or ref('model'); "
            "the warehouse adds its project"
        )
    if name.startswith(REF_PREFIX):
        model = project.models[name.removeprefix(REF_PREFIX)]
        return wh.table(model.dataset, model.name)
    if name.startswith(SOURCE_PREFIX):
        source_name, _, source_table = name.removeprefix(SOURCE_PREFIX).partition("__")
        dataset, relation = SOURCES[source_name], source_table
    elif db is not None:
        dataset, relation = split_name(f"{table.text('db')}.{name}")
    elif name in {cte.alias_or_name for cte in tree.find_all(exp.CTE)}:
        return None
    elif name in project.models:
        model = project.models[name]
        dataset, relation = model.dataset, model.name
    else:
        raise ConfigError(
            f"query names table {name!r}, which is no model; write dataset.table (datasets: "
            f"{', '.join(DATASETS)}) or ref('model'); models: {', '.join(project.models)}"
        )
    wh.describe_table(dataset, relation)  # an unknown table: one error listing what exists
    return wh.table(dataset, relation)


# --- the pipeline's verbs, for a notebook ---------------------------------------------------------


def backfill(
    start: Day, end: Day | None = None, *, force: bool = False, settings: Settings | None = None
) -> IngestSummary:
    """Fetch, check and load the days ``start..end`` (inclusive; one day without ``end``) from
    the configured source (default: the bundled simulator), as ``bnpl backfill`` does. Days the
    ledger already holds for the same request are skipped unless ``force``.

    Raises:
        ConfigError: a bad day or range.
    """
    from bnpl import pipeline

    first = parse_day(start, name="start")
    last = parse_day(end, name="end") if end is not None else first
    with pipeline.open_session(settings or load_settings()) as session:
        return pipeline.ingest_range(session, first, last, force=force)


def build(
    start: Day | None = None,
    end: Day | None = None,
    *,
    select: Sequence[str] = (),
    full_refresh: bool = False,
    settings: Settings | None = None,
) -> Published:
    """Build the selected models (all by default; dbt-style ``name``, ``name+``, ``+name``) for
    ``start..end`` (both or neither: every loaded day), check them, and publish the marts if no
    error-level check failed, as ``bnpl build`` does.

    Raises:
        QualityGateError: a check failed; nothing was published (``.failed`` names the checks).
        ModelError: a model did not build.
        ConfigError: a bad day, range or selection.
    """
    from bnpl import pipeline

    settings = settings or load_settings()
    with open_warehouse(settings, access="existing") as wh:
        return pipeline.write_audit_publish(
            wh,
            settings,
            run_id=uuid.uuid4().hex,
            start=_day(start, "start"),
            end=_day(end, "end"),
            selection=select,
            full_refresh=full_refresh,
        )


def check(
    start: Day | None = None,
    end: Day | None = None,
    *,
    logical_date: Day | None = None,
    settings: Settings | None = None,
) -> GateResult:
    """The quality gate over ``start..end`` (default: every loaded day), as ``bnpl check``: build
    every model into the audit area, run every check, store the results in
    ``bnpl_audit.dq_results`` and publish the marts if no error-level check failed.

    Raises:
        QualityGateError: a check failed; nothing was published.
        ConfigError: a bad day or range, or an empty ledger.
    """
    from bnpl import pipeline

    settings = settings or load_settings()
    with open_warehouse(settings, access="existing") as wh:
        first, last, logical = pipeline.gate_range(
            wh, _day(start, "start"), _day(end, "end"), _day(logical_date, "logical_date")
        )
        published = pipeline.write_audit_publish(
            wh, settings, run_id=uuid.uuid4().hex, start=first, end=last, logical_date=logical
        )
    if published.gate is None:
        raise ConfigError("no mart was built, so nothing was checked; is sql/marts empty?")
    return published.gate

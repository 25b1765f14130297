"""Loading the model project: discovery of ``sql/{staging,intermediate,marts}/**/*.sql``, each template's
declared config and columns, its refs and sources, and the validated dependency graph.

A user's project directory (``BNPL_PROJECT__DIR``) adds the models of its ``models/`` folder, laid
out and written as the bundled ones, beside them: they may ``ref()`` bundled models and each
other, and a model name used twice is an error. A problem in a user model is a
:class:`~bnpl.errors.ConfigError` naming the variable (exit 2), not a :class:`ModelError`.

Loading renders and parses every template at once, so a broken template, an unknown ref, a cycle or
a banned construct fails before anything touches a warehouse, with the file (and line) named.
``sql/assertions/`` belongs to the quality gate and is not a model folder.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import sqlglot.errors
from sqlglot import exp

from bnpl.errors import BnplError, ConfigError, ModelError, WarehouseError
from bnpl.models import dialect
from bnpl.models.checks import with_tests
from bnpl.models.folders import ModelFolder, bundled_folder, user_folder
from bnpl.models.graph import CycleError, topological_order
from bnpl.models.model import (
    LAYERS,
    RUN_PARAMETERS,
    SOURCES,
    TYPES,
    ColumnDoc,
    Model,
    ModelConfig,
    Project,
)
from bnpl.models.render import (
    Collected,
    ColumnCall,
    InheritCall,
    TemplateCallError,
    render_error_line,
    render_template,
    template_line,
)
from bnpl.warehouse.base import table_spec

_TYPE_ALIASES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "DECIMAL": "NUMERIC"}

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CONFIG_KEYS = frozenset(
    {
        "materialized",
        "description",
        "grain",
        "partition_by",
        "cluster_by",
        "unique_key",
        "active_between",
        "parameters",
        "lookback_days",
    }
)


@dataclass
class _Draft:
    name: str
    layer: str
    path: Path
    template: str
    relpath: str
    rendered: str
    collected: Collected
    tree: exp.Expr
    user: bool = False

    def error(self, message: str, line: int | None = None) -> BnplError:
        where = f"{self.relpath}:{line}" if line else self.relpath
        if self.user:
            return ConfigError(f"BNPL_PROJECT__DIR: model {self.name} ({where}): {message}")
        return ModelError(f"model {self.name} ({where}): {message}")


_Snapshot = tuple[tuple[str, int, int], ...]
_LOADED: dict[tuple[Path, Path | None], tuple[_Snapshot, Project]] = {}
"""The last project loaded from each pair of directories, with the file snapshot it was loaded
from."""


def _snapshot(root: Path) -> _Snapshot:
    """Path, modification time and size of every file under ``root``."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            found.append((path.as_posix(), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def load_project(sql_dir: Path | None = None, *, user_dir: Path | None = None) -> Project:
    """Discover, render, parse and validate every model under ``sql_dir`` (default: the bundled
    ``sql/``) and, with ``user_dir`` (``BNPL_PROJECT__DIR``), under ``user_dir/models``.

    Loading takes about a second; a process that builds repeatedly (a backfill of daily runs, a
    notebook) gets the same :class:`Project` back until a file under either folder changes (its
    path, modification time or size). The project is shared: copy a model's ``tree`` before
    changing it.

    Raises:
        ModelError: naming the bundled model and file (and line when known) of the first problem.
        ConfigError: ``user_dir`` has no readable ``models/`` folder, or one of its models is
            malformed or takes a name already used (naming ``BNPL_PROJECT__DIR`` and the file).
    """
    roots = [bundled_folder(sql_dir)]
    if user_dir is not None:
        roots.append(user_folder(user_dir))
    key = (roots[0].path, roots[1].path if user_dir is not None else None)
    snapshot = _snapshot(roots[0].path)
    if user_dir is not None:
        try:
            snapshot += _snapshot(roots[1].path)
        except OSError as exc:
            raise ConfigError(f"BNPL_PROJECT__DIR: cannot read {user_dir}: {exc}") from None
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == snapshot:
        return cached[1]
    project = _load(roots)
    _LOADED[key] = (snapshot, project)
    return project


def _load(roots: Sequence[ModelFolder]) -> Project:
    drafts: dict[str, _Draft] = {}
    for root in roots:
        for layer in LAYERS:
            for path in sorted((root.path / layer).rglob("*.sql")):
                draft = _load_draft(root, layer, path)
                if draft.name in drafts:
                    raise draft.error(
                        f"the name is also used by {drafts[draft.name].relpath}; model names "
                        "are unique (rename one)"
                    )
                drafts[draft.name] = draft
    for draft in drafts.values():
        for ref in draft.collected.refs:
            if ref not in drafts:
                raise draft.error(
                    f"ref({ref!r}) names no model; models: {', '.join(sorted(drafts))}",
                    _find_line(draft, f"ref\\(\\s*['\"]{ref}['\"]"),
                )
        for source_name, table in draft.collected.sources:
            _check_source(draft, source_name, table)
    try:
        order = topological_order({n: set(d.collected.refs) for n, d in drafts.items()})
    except CycleError as exc:
        first = drafts[exc.cycle[0]]
        files = ", ".join(drafts[n].relpath for n in exc.cycle[:-1])
        raise first.error(f"ref() cycle {exc} ({files}); break it") from None
    columns: dict[str, tuple[ColumnDoc, ...]] = {}
    for name in order:
        columns[name] = _resolve_columns(drafts[name], drafts, columns, ())
    models = {name: _finish(drafts[name], columns[name]) for name in order}
    for model in models.values():
        _check_references(model, models)
    user = [r.path for r in roots if r.user]
    return Project(sql_dir=roots[0].path, models=models, user_dir=user[0] if user else None)


def _load_draft(folder: ModelFolder, layer: str, path: Path) -> _Draft:
    root = folder.path
    name = path.stem
    template = path.relative_to(root).as_posix()
    relpath = f"{folder.label}/{template}"
    stub = _Draft(name, layer, path, template, relpath, "", Collected(), exp.Null(), folder.user)
    if not _NAME.fullmatch(name):
        raise stub.error("the file name must be lower_snake_case (it is the model name)")
    try:
        rendered, collected = render_template(root, template)
    except jinja2.TemplateSyntaxError as exc:
        raise stub.error(f"does not render: {exc.message}", exc.lineno) from None
    except (jinja2.TemplateError, TemplateCallError, TypeError) as exc:
        line = render_error_line(exc, str(path))
        raise stub.error(f"does not render: {exc}", line) from None
    stub.rendered, stub.collected = rendered, collected
    try:
        stub.tree = dialect.parse(rendered)
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        at = template_line(root, template, line) if isinstance(line, int) else None
        raise stub.error(
            f"is not valid BigQuery SQL: {first.get('description', exc)} "
            f"(near {first.get('highlight', '?')!r}); fix the SQL",
            at,
        ) from None
    except (sqlglot.errors.TokenError, ValueError) as exc:
        raise stub.error(f"is not valid BigQuery SQL: {exc}; fix the SQL") from None
    violations = dialect.lint(stub.tree)
    if violations:
        first_violation = violations[0]
        at = template_line(root, template, first_violation.line) if first_violation.line else None
        raise stub.error(
            "uses SQL that does not work the same on every warehouse: "
            + "; ".join(v.message for v in violations),
            at,
        )
    return stub


def _find_line(draft: _Draft, pattern: str) -> int | None:
    text = draft.path.read_text()
    match = re.search(pattern, text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _check_source(draft: _Draft, source_name: str, table: str) -> None:
    line = _find_line(draft, f"source\\(\\s*['\"]{source_name}['\"]\\s*,\\s*['\"]{table}['\"]")
    if source_name not in SOURCES:
        raise draft.error(
            f"source({source_name!r}, {table!r}): unknown source; sources: {', '.join(SOURCES)}",
            line,
        )
    try:
        table_spec(SOURCES[source_name], table)
    except WarehouseError:
        raise draft.error(
            f"source({source_name!r}, {table!r}): no table schemas/{SOURCES[source_name]}/"
            f"{table}.json is declared",
            line,
        ) from None


def _normal_type(draft: _Draft, column: str, declared: str) -> str:
    kind = _TYPE_ALIASES.get(declared.upper(), declared.upper())
    if kind not in TYPES:
        raise draft.error(f"column {column!r} has type {declared!r}; use one of {', '.join(TYPES)}")
    return kind


def _pick(
    draft: _Draft, origin: str, available: Sequence[ColumnDoc], call: InheritCall
) -> list[ColumnDoc]:
    by_name = {c.name: c for c in available}
    unknown = [n for n in (*(call.only or ()), *call.exclude) if n not in by_name]
    if unknown:
        raise draft.error(f"columns from {origin}: {unknown} are not columns of it")
    names = list(call.only) if call.only is not None else [c.name for c in available]
    return [by_name[n] for n in names if n not in call.exclude]


def _resolve_columns(
    draft: _Draft,
    drafts: Mapping[str, _Draft],
    done: dict[str, tuple[ColumnDoc, ...]],
    stack: tuple[str, ...],
) -> tuple[ColumnDoc, ...]:
    if draft.name in done:
        return done[draft.name]
    if draft.name in stack:
        raise draft.error(f"columns_from() cycle: {' -> '.join((*stack, draft.name))}")
    result: list[ColumnDoc] = []
    for call in draft.collected.columns:
        if isinstance(call, ColumnCall):
            kind = _normal_type(draft, call.name, call.type)
            column = ColumnDoc(call.name, kind, call.description, call.nullable, call.references)
            try:
                result.append(with_tests(column, call.tests))
            except ValueError as exc:
                raise draft.error(str(exc)) from None
        elif call.source is not None:
            source_name, table = call.source
            _check_source(draft, source_name, table)
            spec = table_spec(SOURCES[source_name], table)
            available = [
                ColumnDoc(c.name, _normal_type(draft, c.name, c.type), c.description, c.nullable)
                for c in spec.columns
            ]
            result += _pick(draft, f"source {source_name}.{table}", available, call)
        else:
            assert call.model is not None
            if call.model not in drafts:
                raise draft.error(f"columns_from({call.model!r}) names no model")
            upstream = _resolve_columns(drafts[call.model], drafts, done, (*stack, draft.name))
            picked = _pick(draft, f"model {call.model}", upstream, call)
            result += [dataclasses.replace(c, unique=False) for c in picked]
    names = [c.name for c in result]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise draft.error(f"columns {duplicated} are declared twice")
    if not result:
        raise draft.error(
            "declares no columns; document each with column(...) or columns_from(...)"
        )
    done[draft.name] = tuple(result)
    return done[draft.name]


def _as_names(draft: _Draft, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise draft.error(f"config({key}=...) must be a name or a list of names, got {value!r}")


def _finish(draft: _Draft, columns: tuple[ColumnDoc, ...]) -> Model:
    collected = draft.collected
    if len(collected.configs) != 1:
        raise draft.error(f"calls config(...) {len(collected.configs)} times; call it once")
    raw = collected.configs[0]
    unknown = sorted(set(raw) - _CONFIG_KEYS)
    if unknown:
        raise draft.error(f"config() has unknown keys {unknown}; known: {sorted(_CONFIG_KEYS)}")
    materialized = raw.get("materialized")
    if materialized not in ("view", "table", "incremental"):
        raise draft.error(
            f"config(materialized={materialized!r}): use 'view', 'table' or 'incremental'"
        )
    for key in ("description", "grain"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise draft.error(f"config({key}=...) is required: every model documents it")
    types = {c.name: c.type for c in columns}

    def declared(key: str, names: tuple[str, ...], kind: str | None = None) -> None:
        for name in names:
            if name not in types:
                raise draft.error(f"config({key}=...) names {name!r}, which is not a column")
            if kind and types[name] != kind:
                raise draft.error(f"config({key}=...) column {name!r} is {types[name]}, not {kind}")

    partition = _as_names(draft, "partition_by", raw.get("partition_by"))
    cluster = _as_names(draft, "cluster_by", raw.get("cluster_by"))
    unique = _as_names(draft, "unique_key", raw.get("unique_key"))
    active = _as_names(draft, "active_between", raw.get("active_between"))
    parameters = _as_names(draft, "parameters", raw.get("parameters"))
    declared("partition_by", partition, "DATE")
    declared("cluster_by", cluster)
    declared("unique_key", unique)
    declared("active_between", active, "DATE")
    if len(partition) > 1 or len(cluster) > 4 or (active and len(active) != 2):
        raise draft.error(
            "config() takes one partition_by column, at most four cluster_by columns and "
            "active_between=[first_date_column, last_date_column]"
        )
    lookback = raw.get("lookback_days", 0)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
        raise draft.error(f"config(lookback_days={lookback!r}) must be a whole number of days >= 0")
    config = ModelConfig(
        materialized=materialized,
        description=" ".join(raw["description"].split()),
        grain=" ".join(raw["grain"].split()),
        partition_by=partition[0] if partition else None,
        cluster_by=cluster,
        unique_key=unique,
        active_between=(active[0], active[1]) if active else None,
        parameters=parameters,
        lookback_days=lookback,
    )
    if lookback and config.strategy != "replace_range":
        raise draft.error("lookback_days applies only to incremental models with partition_by")
    if config.strategy == "merge" and len(unique) != 1:
        raise draft.error(
            "an incremental model without partition_by merges on one unique_key column; "
            "declare unique_key (or partition_by)"
        )
    if active and config.strategy != "merge":
        raise draft.error("active_between applies only to incremental models without partition_by")
    used = dialect.parameters(draft.tree)
    if materialized == "view" and (used or collected.uses_this or collected.uses_holidays):
        raise draft.error(
            "a view cannot read run parameters, this or calendar_holidays(); "
            "materialize it as 'incremental' or 'table'"
        )
    if collected.uses_this and config.strategy != "merge":
        raise draft.error(
            "only incremental models without partition_by (merge models) can read their "
            "previous table through this"
        )
    allowed = {*RUN_PARAMETERS, *parameters}
    stray = sorted(used - allowed)
    if stray:
        raise draft.error(
            f"uses parameters {['@' + p for p in stray]} that are neither run parameters "
            f"(@start_date, @end_date) nor declared in config(parameters=[...])"
        )
    return Model(
        name=draft.name,
        layer=draft.layer,
        path=draft.path,
        relpath=draft.relpath,
        config=config,
        columns=columns,
        refs=tuple(dict.fromkeys(collected.refs)),
        sources=tuple(dict.fromkeys(collected.sources)),
        uses_this=collected.uses_this,
        uses_holidays=collected.uses_holidays,
        parameters=frozenset(used),
        rendered=draft.rendered,
        tree=draft.tree,
    )


def _check_references(model: Model, models: Mapping[str, Model]) -> None:
    for column in model.columns:
        if column.references is None:
            continue
        target, _, target_column = column.references.partition(".")
        if target not in models or target_column not in models[target].column_names:
            raise ModelError(
                f"{model.where()}: column {column.name!r} references {column.references!r}, "
                "which is not a model.column"
            )

"""A user's own checks: SQL assertions in the ``checks/`` folder of ``BNPL_PROJECT__DIR``, run in
``bnpl check`` and the gate beside the bundled checks and stored in ``dq_results`` alike.

One file is one check, named after the file (``checks/orders_have_amounts.sql`` is the check
``orders_have_amounts``), like a dbt singular test: a BigQuery ``SELECT`` of the rows that violate
the rule; the check fails when it returns any. Tables are named as in the models
(``{{ ref('mart_x') }}``, the audited mart while gating; ``{{ source('raw', 'transactions') }}``);
values are the run's bound parameters ``@start_date``, ``@end_date`` (the checked days),
``@window_start`` and ``@logical_date``. An optional header::

    {{ config(severity='warn', model='mart_bnpl_transactions', description='...') }}

``severity`` is ``error`` (the default: blocks publication) or ``warn``; ``model`` (default: the
only ``ref()``'d model) is what ``dq_results.model`` records and decides whether the run checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import sqlglot.errors
from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.models import dialect
from bnpl.models.model import SOURCES, Project
from bnpl.quality.base import Check, Outcome, Severity
from bnpl.quality.context import CheckContext
from bnpl.quality.integrity import SAMPLE_SIZE, describe_violations

USER_CHECKS = "checks"
"""The folder of a user's project directory that holds its checks."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CONFIG_KEYS = frozenset({"severity", "model", "description"})
_PARAMETERS = frozenset({"start_date", "end_date", "window_start", "logical_date"})


@dataclass(frozen=True, slots=True)
class UserAssertion:
    """Evaluate one user check file: its rows are the violations."""

    path: Path
    text: str
    relations: tuple[tuple[str, str], ...] = ()
    """Model name -> how :meth:`CheckContext.relation` names it (marts bare, others qualified)."""

    def __call__(self, ctx: CheckContext) -> Outcome:
        relations = dict(self.relations)

        def ref(model: str) -> str:
            return ctx.relation(relations[model])

        def source(name: str, table: str) -> str:
            return ctx.relation(f"{SOURCES[name]}.{table}")

        sql = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(self.text)
        tree = dialect.parse(sql.render(ref=ref, source=source, config=lambda **_: ""))
        assert isinstance(tree, exp.Query)
        wrapped = (
            exp.select(
                exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "dq_violations"),
                exp.Column(this=exp.Star(), table=exp.to_identifier("violation")),
            )
            .from_(tree.subquery("violation"))
            .limit(SAMPLE_SIZE)
        )
        used = dialect.parameters(wrapped)
        frame = ctx.warehouse.query(
            dialect.to_dialect(wrapped, ctx.warehouse.dialect, copy=False),
            {name: value for name, value in ctx.params.items() if name in used},
        )
        violations = int(frame["dq_violations"][0]) if frame.height else 0
        return Outcome(
            level="fail" if violations else "pass",
            observed=float(violations),
            threshold=0.0,
            details=describe_violations(violations, frame.drop("dq_violations")),
        )


def user_checks(project: Project) -> list[Check]:
    """The checks in ``checks/`` beside the user's ``models/`` (none without a user directory),
    sorted by file name, each validated now.

    Raises:
        ConfigError: naming ``BNPL_PROJECT__DIR`` and the file: unreadable, bad header, a ref()
            to no model, SQL that does not parse, or a parameter the run does not bind.
    """
    if project.user_dir is None:
        return []
    folder = project.user_dir.parent / USER_CHECKS
    if not folder.is_dir():
        return []
    return [_load(path, folder, project) for path in sorted(folder.rglob("*.sql"))]


def _load(path: Path, folder: Path, project: Project) -> Check:
    where = f"BNPL_PROJECT__DIR: check {folder.name}/{path.relative_to(folder).as_posix()}"

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{where}: {problem}")

    name = path.stem
    if not _NAME.fullmatch(name):
        raise fail("a check file is named lower_snake_case.sql (the name is the check's)")
    try:
        text = path.read_text()
    except (OSError, UnicodeError) as exc:
        raise fail(f"cannot read it: {exc}") from None
    configs: list[dict[str, Any]] = []
    refs: list[str] = []

    def config(**kwargs: Any) -> str:
        configs.append(kwargs)
        return ""

    def ref(model: str) -> str:
        if model not in project.models:
            raise fail(f"ref({model!r}) names no model; models: {', '.join(project.models)}")
        refs.append(model)
        return f"`{project.models[model].dataset}`.`{model}`"

    def source(name: str, table: str) -> str:
        if name not in SOURCES:
            raise fail(f"source({name!r}, ...): sources are {', '.join(SOURCES)}")
        return f"`{SOURCES[name]}`.`{table}`"

    try:
        rendered = (
            jinja2.Environment(undefined=jinja2.StrictUndefined)
            .from_string(text)
            .render(ref=ref, source=source, config=config)
        )
        tree = dialect.parse(rendered)
    except jinja2.TemplateError as exc:
        raise fail(f"line {getattr(exc, 'lineno', '?')}: {exc}") from None
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise fail(f"line {first.get('line', '?')}: {first.get('description', exc)}") from None
    except (ValueError, sqlglot.errors.SqlglotError) as exc:
        raise fail(str(exc)) from None
    banned = [v.message for v in dialect.lint(tree, check_tables=False)]
    if banned:
        raise fail("; ".join(banned))
    stray = sorted(dialect.parameters(tree) - _PARAMETERS)
    if stray:
        raise fail(f"uses {['@' + p for p in stray]}; a check may use {sorted(_PARAMETERS)}")
    settings = configs[0] if len(configs) == 1 else {}
    if len(configs) > 1 or set(settings) - _CONFIG_KEYS:
        raise fail(f"call config(...) at most once, with keys among {sorted(_CONFIG_KEYS)}")
    severity: Severity = settings.get("severity", "error")
    if severity not in ("error", "warn"):
        raise fail(f"config(severity={severity!r}): use 'error' or 'warn'")
    model = settings.get("model", refs[0] if len(set(refs)) == 1 else None)
    if not isinstance(model, str) or model not in project.models:
        raise fail("name the checked model: config(model='mart_...') (or ref() exactly one)")
    relations = tuple(
        (m, m if spec.layer == "marts" else f"{spec.dataset}.{m}")
        for m, spec in project.models.items()
    )
    return Check(
        name=name,
        category="integrity",
        model=dict(relations)[model],
        severity=severity,
        description=str(settings.get("description", f"user check {path.name}")),
        evaluate=UserAssertion(path, text, relations),
    )

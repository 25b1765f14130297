"""Rendering a model template: Jinja for structure, then BigQuery SQL with placeholders.

A template calls these functions (and nothing else):

* ``{{ config(materialized=..., description=..., grain=..., ...) }}`` once;
* ``{{ column(name, type, description, nullable=True, references=None, tests=[]) }}`` per result
  column (``tests``: see :mod:`bnpl.models.model`), or
  ``{{ columns_from(model, only=None, exclude=()) }}`` / ``{{ columns_from_source('raw', table,
  only=None, exclude=()) }}`` to inherit documented columns;
* ``{{ ref('model') }}``, ``{{ source('raw', 'table') }}``, ``{{ this }}`` (the model's own table as it
  was before this run; an empty relation on a first build or full refresh) and
  ``{{ calendar_holidays() }}`` (a relation ``(holiday_date DATE, holiday_name STRING)`` bound by the
  runner from :mod:`bnpl.calendar`) as table expressions.

Table expressions render as placeholder identifiers (``__bnpl_ref__<model>`` ...) so the rendered
text is the same for every warehouse and run; the runner swaps them for real relations in the parsed
tree (:mod:`bnpl.models.compile`). Values never pass through Jinja: a run's dates and the holidays
are bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.lexer

from bnpl import sqlcache

PLACEHOLDER_PREFIX = "__bnpl_"
REF_PREFIX = "__bnpl_ref__"
SOURCE_PREFIX = "__bnpl_source__"
THIS_PLACEHOLDER = "__bnpl_this__"
HOLIDAYS_PLACEHOLDER = "__bnpl_holidays__"

_SENTINEL = "\x1e"
_SENTINEL_RE = re.compile(_SENTINEL + r"(\d+)" + _SENTINEL)


class TemplateCallError(Exception):
    """A template called a runner function with bad arguments (becomes a ModelError)."""


@dataclass(frozen=True, slots=True)
class ColumnCall:
    """One ``column(...)`` call, as written."""

    name: str
    type: str
    description: str
    nullable: bool
    references: str | None
    tests: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class InheritCall:
    """One ``columns_from(...)`` or ``columns_from_source(...)`` call."""

    model: str | None
    source: tuple[str, str] | None
    only: tuple[str, ...] | None
    exclude: tuple[str, ...]


@dataclass
class Collected:
    """What one render of a template declared and referenced, in call order."""

    configs: list[dict[str, Any]] = field(default_factory=list)
    columns: list[ColumnCall | InheritCall] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    uses_this: bool = False
    uses_holidays: bool = False


class _This:
    """``{{ this }}``: renders the placeholder and records the use."""

    def __init__(self, collected: Collected) -> None:
        self._collected = collected

    def __str__(self) -> str:
        self._collected.uses_this = True
        return THIS_PLACEHOLDER

    __html__ = __str__


def _names(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TemplateCallError(f"{what} must be a column name or a list of names, got {value!r}")


def _context(collected: Collected) -> dict[str, Any]:
    """The functions a template may call, recording into ``collected``."""

    def config(**kwargs: Any) -> str:
        collected.configs.append(kwargs)
        return ""

    def column(
        name: str,
        type: str,
        description: str,
        nullable: bool = True,
        references: str | None = None,
        tests: Sequence[object] = (),
    ) -> str:
        if not all(isinstance(v, str) for v in (name, type, description)):
            raise TemplateCallError(
                f"column({name!r}, {type!r}, ...): name, type and description are strings"
            )
        if isinstance(tests, str) or not isinstance(tests, Sequence):
            raise TemplateCallError(f"column({name!r}, ..., tests=...) takes a list of tests")
        collected.columns.append(
            ColumnCall(name, type.upper(), description, nullable, references, tuple(tests))
        )
        return ""

    def columns_from(model: str, only: object = None, exclude: object = ()) -> str:
        collected.columns.append(
            InheritCall(model, None, _names(only, "only"), _names(exclude, "exclude") or ())
        )
        return ""

    def columns_from_source(
        source_name: str, table: str, only: object = None, exclude: object = ()
    ) -> str:
        collected.columns.append(
            InheritCall(
                None, (source_name, table), _names(only, "only"), _names(exclude, "exclude") or ()
            )
        )
        return ""

    def ref(model: str) -> str:
        if not isinstance(model, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", model):
            raise TemplateCallError(f"ref({model!r}): a model name is lower_snake_case")
        collected.refs.append(model)
        return REF_PREFIX + model

    def source(source_name: str, table: str) -> str:
        for part in (source_name, table):
            if not isinstance(part, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", part):
                raise TemplateCallError(f"source({source_name!r}, {table!r}): use lower_snake_case")
        collected.sources.append((source_name, table))
        return f"{SOURCE_PREFIX}{source_name}__{table}"

    def calendar_holidays() -> str:
        collected.uses_holidays = True
        return HOLIDAYS_PLACEHOLDER

    return {
        "config": config,
        "column": column,
        "columns_from": columns_from,
        "columns_from_source": columns_from_source,
        "ref": ref,
        "source": source,
        "this": _This(collected),
        "calendar_holidays": calendar_holidays,
    }


class _LineSentinels(jinja2.ext.Extension):
    """Marks every output line with the template line it came from (error reporting only)."""

    def filter_stream(self, stream: jinja2.lexer.TokenStream) -> Iterable[jinja2.lexer.Token]:
        for token in stream:
            if token.type != "data":
                yield token
                continue
            parts = token.value.split("\n")
            marked = [f"{_SENTINEL}{token.lineno}{_SENTINEL}{parts[0]}"]
            marked += [
                f"{_SENTINEL}{token.lineno + i}{_SENTINEL}{part}"
                for i, part in enumerate(parts[1:], 1)
            ]
            yield jinja2.lexer.Token(token.lineno, "data", "\n".join(marked))


def _environment(root: Path, *, sentinels: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_LineSentinels] if sentinels else [],
    )


@cache
def _cached_environment(root: Path, sentinels: bool) -> jinja2.Environment:
    environment = _environment(root, sentinels=sentinels)
    if not sentinels:  # the one kind rendered on every load (sentinels: error lines only)
        environment.bytecode_cache = sqlcache.jinja_bytecode_cache("models")
    return environment


def render_template(root: Path, relpath: str) -> tuple[str, Collected]:
    """Render ``root/relpath`` with the runner's functions.

    Raises:
        jinja2.TemplateError, TemplateCallError: the template does not render.
    """
    collected = Collected()
    template = _cached_environment(root, False).get_template(relpath)
    return template.render(**_context(collected)), collected


def template_line(root: Path, relpath: str, rendered_line: int) -> int | None:
    """The template line that produced ``rendered_line`` (1-based) of :func:`render_template`.

    Renders again with line sentinels; a line produced by an expression maps to the line of the
    nearest preceding template text.
    """
    try:
        template = _cached_environment(root, True).get_template(relpath)
        lines = template.render(**_context(Collected())).split("\n")
    except (jinja2.TemplateError, TemplateCallError):
        return None
    target = min(max(rendered_line, 1), len(lines)) - 1
    for index in range(target, -1, -1):
        found = _SENTINEL_RE.findall(lines[index])
        if found:
            # the target line starts at its first mark; an earlier line ends at its last one
            return int(found[0] if index == target else found[-1])
    return None


def render_error_line(exc: BaseException, filename: str) -> int | None:
    """The template line of a Jinja or template-call error, from the exception or its traceback."""
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    found: int | None = None
    for frame, lineno in _walk_traceback(exc):
        if frame == filename:
            found = lineno
    return found


def _walk_traceback(exc: BaseException) -> Iterator[tuple[str, int]]:
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next

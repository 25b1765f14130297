"""What a rejected setting says, without leaking a secret: one line per invalid ``BNPL_``
variable, and the values :func:`bnpl.settings.load_settings` registers for redaction (every
secret, and whatever pydantic rejected for a field it does not know or a secret field)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError

from bnpl.redaction import strip_userinfo


def secret_values(model: BaseModel) -> Iterator[str]:
    """Every ``SecretStr`` value of ``model`` and its sections (and the parts of a user info)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
            yield text
            if name == "userinfo" and ":" in text:
                yield text.split(":", 1)[1]
        elif isinstance(value, BaseModel):
            yield from secret_values(value)


def rejected_values(exc: ValidationError) -> Iterator[str]:
    """The text of every input pydantic rejected for a field it does not know (a misspelled
    field may hold a key) or for a secret field."""
    for err in exc.errors():
        value = err.get("input")
        names = "__".join(str(p) for p in err["loc"])
        if err["type"] != "extra_forbidden" and not _is_secret(names):
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, str))


def _complex_fields(settings: type[BaseModel]) -> dict[str, str]:
    """``BNPL_`` variable → field name, for every field whose value is read as JSON."""
    found = {}
    for section, info in settings.model_fields.items():
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            kind = get_origin(field.annotation) or field.annotation
            if kind in (dict, list) or any(get_origin(a) in (dict, list) for a in get_args(kind)):
                found[f"BNPL_{section.upper()}__{name.upper()}"] = name
    return found


def describe_unparsable(settings: type[BaseModel]) -> str:
    """Name the variables whose JSON value pydantic-settings could not parse into ``settings``'s
    sections."""
    lines = []
    for var in _complex_fields(settings):
        value = os.environ.get(var)
        if value is None:
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            lines.append(f"{var}: not valid JSON ({exc.msg} at character {exc.pos})")
    if not lines:
        lines.append("BNPL_*: a value that must be JSON (an object or a list) is not")
    return "invalid settings: " + "; ".join(lines)


def describe_validation_error(exc: ValidationError) -> str:
    """Turn a pydantic error into lines of ``BNPL_SECTION__FIELD: message``.

    A value is echoed only for a known field that is not a secret, with any URL user info
    masked; never for a field pydantic does not know (``extra_forbidden``).
    """
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        loc = [p for p in loc if p not in ("duckdb", "bigquery")]
        var = "BNPL_" + "__".join(p.upper() for p in loc) if loc else "BNPL_*"
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            lines.append(f"{var}: not a known setting (check its spelling)")
        elif _is_secret(var) or not isinstance(value, str | int | float | bool):
            lines.append(f"{var}: {err['msg']}")
        else:
            lines.append(f"{var}: {err['msg']} (got {strip_userinfo(repr(value))})")
    return "invalid settings: " + "; ".join(lines)


_SECRET_NAME = re.compile(r"CREDENTIAL|SECRET|PASSWORD|TOKEN|KEY|USERINFO", re.IGNORECASE)


def _is_secret(var: str) -> bool:
    return bool(_SECRET_NAME.search(var))

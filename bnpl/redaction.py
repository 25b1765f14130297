"""Secrets never leave settings: one process-wide redactor for error texts and log records.

:func:`bnpl.settings.load_settings` registers every secret of the loaded settings (each
``SecretStr``, the source's user info) and the value of every ``BNPL_*`` variable it rejects
(a misspelled name may hold a key), then installs :func:`install_log_redaction`. From then on:

- ``str()`` and ``repr()`` of every :class:`bnpl.errors.BnplError` are redacted (so the CLI's
  error line, ``bnpl_audit.ingest_failures.error``, Prefect's states and artifacts);
- every log record, of any logger (bnpl's, Prefect's, httpx's), is redacted when it is formed,
  before any handler (stderr, Prefect's API) sees it: message, arguments and traceback text.

A secret shorter than :data:`MIN_SECRET_CHARS` is not registered (it would blank out ordinary
words); use longer secrets.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
"""What a secret becomes."""

MIN_SECRET_CHARS = 4
"""Shorter values are not treated as secrets."""

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_installed = False


def register_secrets(values: Iterable[str | None]) -> None:
    """Add secret values to the redactor (idempotent; blanks and short values are ignored)."""
    global _secrets
    new = {v for v in values if v and len(v) >= MIN_SECRET_CHARS}
    if not new:
        return
    with _lock:
        # longest first, so a secret that contains another is masked whole
        _secrets = tuple(sorted(set(_secrets) | new, key=lambda s: (-len(s), s)))


def url_secrets(url: str) -> list[str]:
    """The user info of ``url`` (``user:pass``, the password, both raw and %-decoded)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    found: list[str] = []
    if parts is not None and parts.password:
        found += [parts.password, unquote(parts.password)]
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        found += [userinfo, unquote(userinfo)]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            found += [password, unquote(password)]
    return found


def strip_userinfo(text: str) -> str:
    """``text`` with the user info of a URL in it replaced by :data:`MASK`
    (``http://u:p@host`` → ``http://***@host``)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    netloc, slash, path = rest.partition("/")
    if "@" not in netloc:
        return text
    return f"{scheme}://{MASK}@{netloc.rsplit('@', 1)[1]}{slash}{path}"


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by :data:`MASK`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    if not _secrets:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: let the handler report it as logging does
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        if not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        # the traceback's text is all a handler prints; the live objects may hold secrets
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_log_redaction() -> None:
    """Redact every log record of this process when it is formed (idempotent): a record factory
    wraps the current one, so every logger and handler sees redacted text."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True

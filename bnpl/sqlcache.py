"""A disk cache of compiled SQL, so that each ``bnpl`` command does not transpile again what the
previous one did.

Transpiling with sqlglot is the largest part of a one-day ``bnpl build`` or ``bnpl check`` beyond
the warehouse's work (~60 assertion templates and every model, ~1 s of CPU). The results are pure
functions of their inputs: the rendered SQL (values are bound parameters, never in the text), the
dialect, the names of the tables, the sqlglot version and bnpl's own SQL code. An entry's file
name is a SHA-256 of all of these, so a changed input is a different file and never a stale hit.

Entries are small JSON files under :data:`CACHE_DIR` (``.bnpl/cache/sql`` of the working directory,
beside the default DuckDB file), written atomically (a temporary file, then a rename): a
concurrent reader sees a whole entry or none. The folder is safe to delete at any time. Any
problem reading or writing (read-only folder, a corrupt file) is a miss: the SQL is compiled as
if there were no cache.

The SQL templates' Jinja is compiled to Python once per template too; :func:`jinja_bytecode_cache`
keeps that bytecode under ``.bnpl/cache/jinja/<environment>-<code version>`` (Jinja checks each
file against the template source's checksum and its own version; the environment's options are
bnpl code, so the code version in the folder name stands for them).

Entries are executed (SQL against the warehouse, Jinja bytecode as Python), so the cache is
trusted as ``__pycache__`` is: it is used only when ``.bnpl/cache`` belongs to the current user
and no one else may write it (it is created ``0700``); otherwise everything is compiled and
nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

logger = logging.getLogger(__name__)

ROOT = Path(".bnpl/cache")
"""The cache's folder, relative to the working directory."""
CACHE_DIR = ROOT / "sql"
"""Where entries are written, relative to the working directory."""
JINJA_DIR = ROOT / "jinja"
"""Where compiled Jinja templates are written, one folder per environment."""

_CODE = ("models", "quality/assertions.py", "sqltext.py")
"""bnpl's SQL code: every module under ``bnpl/models`` and the two helpers, hashed into each key
(so editing the transpiler's rules invalidates every entry)."""


@cache
def code_version() -> str:
    """SHA-256 of the sqlglot version and the bytes of bnpl's SQL code."""
    import sqlglot

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"sqlglot {getattr(sqlglot, '__version__', '')}\n".encode())
    for name in _CODE:
        path = package / name
        for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def usable() -> bool:
    """Whether the cache may be used from this working directory (see the module)."""
    return _usable(Path.cwd() / ROOT)


@cache
def _usable(root: Path) -> bool:
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = root.stat()
    except OSError as exc:
        logger.debug("SQL cache not used: %s", exc)
        return False
    getuid = getattr(os, "getuid", None)
    owned = getuid is None or info.st_uid == getuid()
    if owned and not info.st_mode & 0o022:
        return True
    logger.warning(
        "%s is not the current user's or others may write it: compiling without the cache "
        "(remove the folder to let bnpl recreate it)",
        root,
    )
    return False


def key(kind: str, *parts: str) -> str:
    """The entry name for ``parts`` (texts that determine the result) of ``kind``."""
    digest = hashlib.sha256(f"{kind}\0{code_version()}".encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return f"{kind}-{digest.hexdigest()}"


def get(name: str) -> dict[str, Any] | None:
    """The entry ``name`` (from :func:`key`), or None when absent or unreadable."""
    if not usable():
        return None
    try:
        value = json.loads((CACHE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.debug("SQL cache entry %s unreadable, compiling: %s", name, exc)
        return None
    return value if isinstance(value, dict) else None


def put(name: str, value: dict[str, Any]) -> None:
    """Write the entry ``name`` atomically; a failure is logged at debug level and ignored."""
    if not usable():
        return
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=CACHE_DIR)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(value, out)
            Path(tmp).replace(CACHE_DIR / f"{name}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.debug("SQL cache entry %s not written: %s", name, exc)


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, made optional: a missing folder is created, an unreadable or unwritable
    entry is a miss."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, TypeError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            Path(self.directory).mkdir(parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError as exc:
            logger.debug("Jinja bytecode not cached in %s: %s", self.directory, exc)


def jinja_bytecode_cache(environment: str) -> jinja2.BytecodeCache | None:
    """A bytecode cache for the Jinja environment named ``environment`` (one name per set of
    environment options, and the code version: templates compiled with other options must not
    share it), or None when the cache is not usable."""
    if not usable():
        return None
    return _BytecodeCache(str(JINJA_DIR / f"{environment}-{code_version()[:16]}"))

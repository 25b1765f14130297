"""bnpl.sqlcache: compiled SQL and Jinja bytecode kept on disk, keyed by every input; a changed
input misses, a damaged entry is a miss, an unwritable folder only costs the compile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnpl import sqlcache
from bnpl.quality import assertions
from bnpl.sqltext import render_sql

SQL = "SELECT COUNT(*) AS n FROM `bnpl_raw.transactions` WHERE transaction_date = @start_date"


def _entries(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"{kind}-*.json"))


def test_assertion_is_compiled_once_then_read_back(cache_dir: Path):
    """The first compile writes an entry; a cold process reads the same SQL and parameters."""
    first = assertions.compile_sql(SQL, "duckdb", template="t")
    [entry] = _entries(cache_dir, "assertion")
    assert json.loads(entry.read_text())["sql"] == first.sql
    assert first.params == frozenset({"start_date"})
    assertions.compile_sql.cache_clear()
    # what is on disk is what comes back (proved by changing it)
    entry.write_text(json.dumps({"sql": "SELECT 42 AS n", "params": ["start_date"]}))
    again = assertions.compile_sql(SQL, "duckdb", template="t")
    assert again.sql == "SELECT 42 AS n"
    assert again.params == first.params


def test_a_changed_input_misses(cache_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Another SQL text, another dialect, another sqlglot or bnpl code version: new entries."""
    assertions.compile_sql(SQL, "duckdb", template="t")
    assertions.compile_sql(SQL + " AND amount > 0", "duckdb", template="t")
    assertions.compile_sql(SQL, "bigquery", template="t")
    assert len(_entries(cache_dir, "assertion")) == 3
    before = sqlcache.key("assertion", "duckdb", SQL)
    monkeypatch.setattr(sqlcache, "code_version", lambda: "another sqlglot or bnpl")
    assert sqlcache.key("assertion", "duckdb", SQL) != before
    assertions.compile_sql.cache_clear()
    assertions.compile_sql(SQL, "duckdb", template="t")
    assert len(_entries(cache_dir, "assertion")) == 4


def test_code_version_follows_sqlglot(monkeypatch: pytest.MonkeyPatch):
    """Another sqlglot version is another code version (so every key changes)."""
    import sqlglot

    before = sqlcache.code_version()
    assert len(before) == 64
    sqlcache.code_version.cache_clear()
    monkeypatch.setattr(sqlglot, "__version__", "0.0.0-other")
    try:
        assert sqlcache.code_version() != before
    finally:
        sqlcache.code_version.cache_clear()


@pytest.mark.parametrize("damage", ["not json", "[1, 2]", '{"sql": 1}', ""])
def test_a_damaged_entry_is_a_miss(cache_dir: Path, damage: str):
    """A corrupt or foreign entry is compiled again and rewritten."""
    expected = assertions.compile_sql(SQL, "duckdb", template="t")
    [entry] = _entries(cache_dir, "assertion")
    entry.write_text(damage)
    assertions.compile_sql.cache_clear()
    assert assertions.compile_sql(SQL, "duckdb", template="t") == expected
    assert json.loads(entry.read_text())["sql"] == expected.sql


def test_an_unwritable_folder_only_costs_the_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """With the cache folder's place taken by a file, compiling still works and writes nothing."""
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    monkeypatch.setattr(sqlcache, "CACHE_DIR", blocker / "sql")
    assertions.compile_sql.cache_clear()
    compiled = assertions.compile_sql(SQL, "duckdb", template="t")
    assert "start_date" in compiled.params
    assert blocker.read_text() == "a file, not a folder"


def test_jinja_bytecode_is_cached_per_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Rendering a SQL template writes its compiled bytecode, in a folder of the environment and
    bnpl's code version (the environment's options are code); the render is unchanged."""
    monkeypatch.setattr(sqlcache, "JINJA_DIR", tmp_path / "jinja")
    cache = sqlcache.jinja_bytecode_cache("test")
    import jinja2

    env = jinja2.Environment(loader=jinja2.DictLoader({"t.sql": "SELECT {{ x }}"}))
    env.bytecode_cache = cache
    assert env.get_template("t.sql").render(x=1) == "SELECT 1"
    [folder] = (tmp_path / "jinja").iterdir()
    assert folder.name == f"test-{sqlcache.code_version()[:16]}"
    assert list(folder.iterdir())
    fresh = jinja2.Environment(loader=jinja2.DictLoader({"t.sql": "SELECT {{ x }}"}))
    fresh.bytecode_cache = sqlcache.jinja_bytecode_cache("test")
    assert fresh.get_template("t.sql").render(x=2) == "SELECT 2"
    assert render_sql("assertions", "metrics/ledger_range.sql", {"source": lambda *a: "t"})


def test_a_cache_others_may_write_is_not_used(
    cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries are executed, so a cache folder that others may write is neither read nor
    written (one warning); the SQL is compiled as without a cache. bnpl creates it 0700."""
    assertions.compile_sql(SQL, "duckdb", template="t")
    assert cache_dir.parent.stat().st_mode & 0o777 == 0o700
    [entry] = _entries(cache_dir, "assertion")
    entry.write_text(json.dumps({"sql": "SELECT 42 AS n", "params": ["start_date"]}))
    cache_dir.parent.chmod(0o777)
    sqlcache._usable.cache_clear()
    assertions.compile_sql.cache_clear()
    try:
        compiled = assertions.compile_sql(SQL + " AND amount > 0", "duckdb", template="t")
        again = assertions.compile_sql(SQL, "duckdb", template="t")
        assert sqlcache.jinja_bytecode_cache("sql") is None
    finally:
        cache_dir.parent.chmod(0o700)
        sqlcache._usable.cache_clear()
    assert "amount" in compiled.sql and again.sql != "SELECT 42 AS n"
    assert len(_entries(cache_dir, "assertion")) == 1
    assert "others may write it" in caplog.text

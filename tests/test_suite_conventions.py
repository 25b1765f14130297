"""Conventions of the test suite itself (STYLE.md rule 19), checked on its source."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def undocumented_tests(root: Path) -> list[str]:
    """``path:line name`` of every test function under ``root`` (module level or in a class)
    without a docstring."""
    missing: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test")
                and not (ast.get_docstring(node) or "").strip()
            ):
                missing.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    return missing


def test_every_test_function_has_a_docstring() -> None:
    """Each test function under tests/ states the behaviour it checks in a docstring."""
    assert undocumented_tests(TESTS) == []


def test_the_scan_finds_an_undocumented_test(tmp_path: Path) -> None:
    """The scan reports a test without a docstring, nested or async too, and passes documented
    tests and helpers."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "test_x.py").write_text(
        "def test_documented():\n"
        '    """It works."""\n'
        "\n"
        "def helper():\n"
        "    pass\n"
        "\n"
        "def test_bare():\n"
        "    assert True\n"
        "\n"
        "class TestGroup:\n"
        "    async def test_in_class(self):\n"
        "        pass\n"
    )
    assert undocumented_tests(tmp_path) == [
        "sub/test_x.py:7 test_bare",
        "sub/test_x.py:11 test_in_class",
    ]


def conftest_imports(root: Path) -> list[str]:
    """``path:line`` of every ``import conftest`` / ``from conftest import`` under ``root``: with
    several test directories in one run, ``conftest`` is whichever one pytest imported last."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [node.module]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if "conftest" in names:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_test_imports_a_conftest() -> None:
    """Shared helpers live in named modules (``*_data.py``, ``*_helpers.py``), never imported
    from a conftest, so any set of test directories runs together in one pytest command."""
    assert conftest_imports(TESTS) == []


def test_the_scan_finds_a_conftest_import(tmp_path: Path) -> None:
    """Both import forms are reported; a module merely named like it is not."""
    (tmp_path / "test_a.py").write_text(
        "from conftest import helper\nimport conftest\nimport conftest_tools\n"
    )
    assert conftest_imports(tmp_path) == ["test_a.py:1", "test_a.py:2"]

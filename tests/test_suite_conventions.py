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

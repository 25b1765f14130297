"""Run every benchmark module and append its report to ``bench/results.md``.

Each ``bench/bench_<name>.py`` has ``main() -> str`` returning a Markdown section that states the
command, the machine and the figures (with the baseline measured in the same run). Run one with
``python -m bench <name>``.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results.md"


def machine() -> str:
    """One line describing this machine."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"commit {commit or 'unknown'}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        section = module.main()
        report = f"\n## {name}\n\n{machine()}\n\n{section.strip()}\n"
        print(report)
        with RESULTS.open("a") as out:
            out.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

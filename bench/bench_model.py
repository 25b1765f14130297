"""``bnpl model train`` and ``bnpl model promote`` on a year of the demo's data.

Needs a directory where ``bnpl backfill --start 2024-01-01 --end 2024-12-31 && bnpl build`` ran
(``.bnpl/bnpl.duckdb`` inside it), named by ``BNPL_BENCH_YEAR_DIR`` (it takes ~2.5 min to make,
so it is made once and kept). Each command runs as its own process, as a user runs it, with a
fresh MLflow store in a temporary directory: wall time, CPU seconds (user + sys) and peak RSS
(``/usr/bin/time``). Baseline in the same run: reading the training set as of the same date,
which every training run does first. Targets (issue 14): train <= 60 s and <= 3 GiB, promote
<= 30 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

COMMAND = "BNPL_BENCH_YEAR_DIR=DIR .venv/bin/python -m bench model"
AS_OF_CHAMPION, AS_OF = "2024-12-17", "2024-12-31"
BIN = Path(sys.executable).parent
READ_SET = (
    "from datetime import date; from bnpl import features, load_settings; "
    f"features.training_frame(as_of=date.fromisoformat('{AS_OF}'), settings=load_settings())"
)


def timed(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run ``args``; wall, user+sys CPU seconds and peak RSS (GiB) from /usr/bin/time."""
    out = cwd / "time.txt"
    done = subprocess.run(
        ["/usr/bin/time", "-o", str(out), "-f", "%e %U %S %M", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    wall, user, system, rss_kib = out.read_text().split()[-4:]
    return {
        "wall": float(wall),
        "cpu": float(user) + float(system),
        "rss": int(rss_kib) / 1024 / 1024,
        "stderr_lines": float(len([l for l in done.stderr.splitlines() if " WARNING " in l])),
    }


def main() -> str:
    """Time train and promote; return the Markdown section."""
    year = os.environ.get("BNPL_BENCH_YEAR_DIR")
    if not year or not (Path(year) / ".bnpl" / "bnpl.duckdb").is_file():
        raise SystemExit("set BNPL_BENCH_YEAR_DIR to a directory with a built year (see docstring)")
    with tempfile.TemporaryDirectory(prefix="bnpl-bench-model-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
        env |= {
            "BNPL_WAREHOUSE__PATH": str(Path(year) / ".bnpl" / "bnpl.duckdb"),
            "BNPL_MODEL__STORE_DIR": str(Path(tmp) / "mlflow"),
        }
        cwd = Path(tmp)
        bnpl = str(BIN / "bnpl")
        read = timed([str(BIN / "python"), "-c", READ_SET], env, cwd)
        first = timed([bnpl, "model", "train", "--as-of", AS_OF_CHAMPION], env, cwd)
        timed([bnpl, "model", "promote", "--initial"], env, cwd)
        train = timed([bnpl, "model", "train", "--as-of", AS_OF], env, cwd)
        promote = timed([bnpl, "model", "promote"], env, cwd)
        listed = subprocess.run(
            [bnpl, "model", "list"], env=env, cwd=cwd, capture_output=True, text=True, check=True
        ).stdout
    rows = [
        ("read the training set (baseline)", read, None),
        (f"`bnpl model train --as-of {AS_OF_CHAMPION}` (first run: creates the store)", first, None),
        (f"`bnpl model train --as-of {AS_OF}`", train, "<= 60 s, <= 3 GiB"),
        ("`bnpl model promote` (1,000 bootstrap resamples)", promote, "<= 30 s"),
    ]
    lines = [
        f"Command: `{COMMAND}` (DIR: `bnpl backfill --start 2024-01-01 --end 2024-12-31 && bnpl "
        "build`, default plan). Each step is one process; MLflow store: embedded SQLite in a "
        "temporary directory. CPU = user + sys seconds.",
        "",
        "| step | wall | CPU | peak RSS | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, t, target in rows:
        lines.append(
            f"| {name} | {t['wall']:.1f} s | {t['cpu']:.1f} s | {t['rss']:.2f} GiB | {target or '-'} |"
        )
    lines += ["", "Versions after the run (`bnpl model list`):", "", listed.strip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())

"""What the challenger in shadow and the score log add to a request (issue 15: <= 1 ms at p99).

The real ``bnpl serve`` (uvicorn, its own process) on ``python -m bench serving``'s ten days, store
and champion, with the champion's model registered again as the challenger
(:mod:`bench.profile_serving`). Four servers in turn, the score log and shadow off, on, off, on,
each driven by wrk at 200 requests/s for ``BENCH_SHADOW_SECONDS`` (default 30) after 5 s of
warm-up. The cost is the mean p99 (and server CPU per request, the shadow worker's included) of
the two "on" runs minus that of the two "off" runs: alternating spreads the machine's drift over
both sides.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

COMMAND = ".venv/bin/python -m bench shadow"


def main() -> str:
    from bench.profile_serving import served_env, shadow_runs
    from bench.serving_load import LOAD_HEADER

    seconds = float(os.environ.get("BENCH_SHADOW_SECONDS", "30"))
    with tempfile.TemporaryDirectory(prefix="bnpl-bench-shadow-") as name:
        tmp = Path(name)
        served, env = served_env(tmp)
        runs = list(shadow_runs(tmp, served, env, seconds))
    rows = [f"| {label} {run.run.row()} {run.shadow.get('bnpl_shadow_scores_total', 0):g} |"
            for label, run in runs]  # fmt: skip
    on = [run.run for label, run in runs if label.startswith("on")]
    off = [run.run for label, run in runs if label.startswith("off")]

    def cpu_ms(runs: list[object]) -> float:
        return statistics.mean(1000 * r.server_cpu_s / max(1, r.ok) for r in runs)  # type: ignore[attr-defined]

    p99_on = statistics.mean(r.p99_ms() for r in on)
    p99_off = statistics.mean(r.p99_ms() for r in off)
    header, rule = LOAD_HEADER.split("\n")
    return "\n".join(
        [
            f"`{COMMAND}` (`BENCH_SHADOW_SECONDS={seconds:g}`; real server, wrk on the same cores;"
            " server CPU is the serving process's user+sys, the shadow worker's included)",
            "",
            f"| score log + shadow {header} challenger scores |",
            f"|---{rule}---:|",
            *rows,
            "",
            f"Shadow on minus off (means of two runs each): p99 {p99_on - p99_off:+.2f} ms"
            f" ({p99_off:.2f} -> {p99_on:.2f}), server CPU {cpu_ms(on) - cpu_ms(off):+.2f} ms per"
            " request. Target: <= +1 ms at p99.",
        ]
    )

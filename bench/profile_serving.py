"""Where ``bnpl serve`` spends its CPU, and what the shadow costs it, at 200 requests/s.

``python -m bench.profile_serving MODE SECONDS [NAME=VALUE ...]`` builds ``python -m bench
serving``'s ten days, store and champion once into ``BENCH_PROFILE_DIR`` (default
``/tmp/bnpl-profile-serving``; reused by later runs), then runs ``bnpl serve`` and drives it with
wrk (:func:`bench.serving_load.paced_run`): 5 s right after ready, then ``SECONDS`` at 200/s.
Prints the load table's rows (server CPU ms per request included). ``NAME=VALUE`` pairs are
``BNPL_*`` settings of the server.

* ``plain``: one server. Before/after in one sitting: run it once with
  ``PYTHONPATH=<an export of the base commit's bnpl/>`` and once without.
* ``spy``: the same with ``py-spy record`` (in the venv) on the server; raw stacks to
  ``<dir>/profile.txt``.
* ``shadow``: a challenger registered (the champion's model again, a new version); servers with
  the score log and shadow off, on, off, on.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from bench.live_services import _stop
from bench.serving_load import ROOT, LoadRun, free_port, paced_run
from bench.serving_setup import prepare, register_model, settings_env

TOKEN = "bench-token-0123456789"


def _served(tmp: Path) -> object:
    cache = tmp / "served.pkl"
    if not cache.exists():
        tmp.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(prepare(tmp, date(2024, 1, 1), date(2024, 1, 10), TOKEN)))
    return pickle.loads(cache.read_bytes())


def _challenger(env: dict[str, str], tmp: Path) -> None:
    flag = tmp / "challenger.done"
    if flag.exists():
        return
    saved = {k: os.environ.pop(k) for k in [k for k in os.environ if k.startswith("BNPL_")]}
    os.environ.update(env)
    try:
        from bnpl.governance.registry import load_model
        from bnpl.settings import load_settings

        settings = load_settings()
        model, _, names = load_model(settings, "champion")
        register_model(settings, model, list(names), "challenger", as_of="2024-01-10",
                       train_start="2024-01-01", train_end="2024-01-09")  # fmt: skip
    finally:
        for name in env:
            os.environ.pop(name, None)
        os.environ.update(saved)
    flag.write_text("registered\n")


@dataclass(frozen=True)
class ServerRun:
    """One ``bnpl serve``: 5 s right after ready, then the measured run; its shadow counters."""

    early: LoadRun
    run: LoadRun
    shadow: dict[str, float]

    def text(self) -> str:
        counters = " ".join(f"{k} {v:g}" for k, v in self.shadow.items())
        return f"first 5 s: {self.early.row()}\n{self.run.row()} {counters}"


def _run(tmp: Path, served: object, env: dict[str, str], seconds: float, spy: bool) -> ServerRun:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "bnpl"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp / "serve.log").open("wb") as out:
        process = subprocess.Popen(command, env=clean | env, cwd=ROOT, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() - started > 180:
                raise RuntimeError((tmp / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
        time.sleep(2)  # the shadow worker loads the challenger
        bodies = served.bodies[-200:]  # type: ignore[attr-defined]
        early = paced_run(url, process.pid, tmp, bodies, TOKEN, rate=200, seconds=5)
        py_spy = None
        if spy:
            py_spy = subprocess.Popen([str(bin_dir / "py-spy"), "record", "--pid",
                                       str(process.pid), "-r", "250", "-f", "raw", "-o",
                                       str(tmp / "profile.txt"), "-d", str(int(seconds)),
                                       "--nonblocking"])  # fmt: skip
        run = paced_run(url, process.pid, tmp, bodies, TOKEN, rate=200, seconds=seconds)
        if py_spy is not None:
            py_spy.wait()
        shadow = {
            name: float(value)
            for name, value in (
                line.rsplit(" ", 1)
                for line in httpx.get(f"{url}/metrics").text.splitlines()
                if line.startswith(("bnpl_shadow_scores_total", "bnpl_shadow_dropped_total"))
            )
        }
        return ServerRun(early, run, shadow)
    finally:
        _stop(process)


def served_env(tmp: Path) -> tuple[object, dict[str, str]]:
    """The prepared days, store and champion in ``tmp`` (made once), and the server's settings."""
    served = _served(tmp)
    env = settings_env(tmp, served.store_path, served.store_dir, TOKEN)  # type: ignore[attr-defined]
    return served, env


def main(argv: list[str]) -> None:
    mode, seconds = argv[0], float(argv[1])
    tmp = Path(os.environ.get("BENCH_PROFILE_DIR", "/tmp/bnpl-profile-serving"))
    served, env = served_env(tmp)
    env |= dict(a.split("=", 1) for a in argv[2:])
    if mode in ("plain", "spy"):
        print(_run(tmp, served, env, seconds, spy=mode == "spy").text(), flush=True)
        return
    for label, run in shadow_runs(tmp, served, env, seconds):
        print(f"shadow + score log {label}:\n{run.text()}", flush=True)


SHADOW_RUNS = (("off", "false"), ("on", "true"), ("off again", "false"), ("on again", "true"))


def shadow_runs(
    tmp: Path, served: object, env: dict[str, str], seconds: float
) -> Iterator[tuple[str, ServerRun]]:
    """A challenger registered, then servers with the score log and shadow off, on, off, on."""
    _challenger(env, tmp)
    env = env | {"BNPL_SERVING__SCORE_LOG_PATH": str(tmp / "scores.sqlite")}
    for label, on in SHADOW_RUNS:
        yield label, _run(tmp, served, env | {"BNPL_SERVING__SCORE_LOG": on}, seconds, spy=False)


if __name__ == "__main__":
    main(sys.argv[1:])

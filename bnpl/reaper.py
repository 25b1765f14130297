"""Children never outlive bnpl, even after ``kill -9``: a watchdog process, and a lifeline for
the children bnpl spawns itself.

A run starts children: the bundled simulator (:class:`bnpl.simulator.process.BackgroundSimulator`)
and Prefect's temporary API server (which Prefect starts, not bnpl). A clean exit stops both; a
``kill -9`` of bnpl used to leave them listening. Two mechanisms, Linux only (elsewhere both are
no-ops; see ``docs/decisions.md``):

- :func:`start_reaper` starts this file as a script (standard library only: it imports nothing of
  bnpl, so it starts in ~20 ms) in its own session. It learns bnpl's descendants from
  ``/proc`` every :data:`SCAN_S` seconds, checks every :data:`PARENT_POLL_S` seconds whether bnpl
  still lives, and once bnpl is gone sends SIGTERM to every descendant it knew (and their own
  children), then SIGKILL to those still alive :data:`TERM_GRACE_S` later, and exits.
- :func:`watch_parent`, called by a child bnpl spawns, ends that child as soon as its parent is
  gone: ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` when the parent spawned it from its main thread (the
  kernel signals the child when the spawning *thread* ends), plus a thread polling
  ``os.getppid()``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PARENT_POLL_S = 0.1
"""Seconds between checks that the watched process still lives."""

SCAN_S = 1.0
"""Seconds between two walks of the watched process's descendants in ``/proc``."""

TERM_GRACE_S = 2.0
"""Seconds the orphans get between SIGTERM and SIGKILL."""

_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")

_started: subprocess.Popen[bytes] | None = None


def supported() -> bool:
    """Whether this platform has what the watchdog reads (Linux's ``/proc``)."""
    return sys.platform.startswith("linux") and _PROC.is_dir()


def start_reaper() -> int | None:
    """Start the watchdog of this process's descendants (once per process); its pid, or None
    where it is not supported."""
    global _started
    if not supported():
        return None
    if _started is None or _started.poll() is not None:
        _started = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C and `timeout` signal bnpl's group, not the reaper
        )
    return _started.pid


def watch_parent(parent_pid: int, *, death_signal: bool) -> None:
    """End this process (SIGTERM to itself) as soon as ``parent_pid`` is no longer its parent.

    ``death_signal``: also ask the kernel for SIGTERM when the parent's spawning thread ends
    (right only if that thread was the parent's main thread). No-op outside Linux.
    """
    if not supported():
        return
    if death_signal:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def poll() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of ``pid``, or None if it is gone (or a zombie:
    dead, waiting for whoever adopted it to reap it)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and ")"
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[19])


def _children(pid: int) -> set[int]:
    """The live children of ``pid``, from every task's ``children`` file (or a walk of /proc)."""
    found: set[int] = set()
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
        for task in tasks:
            found.update(int(c) for c in (task / "children").read_text().split())
        return found
    except FileNotFoundError:
        if not (_PROC / str(pid)).exists():
            return set()
    except OSError:
        return set()
    for entry in _PROC.iterdir():  # a kernel without CONFIG_PROC_CHILDREN
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] == pid:
            found.add(int(entry.name))
    return found


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``, with its start time (which tells a reused pid)."""
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found and (stat := _stat(child)) is not None:
                found[child] = stat[1]
                todo.append(child)
    return found


def _alive(known: dict[int, int]) -> dict[int, int]:
    return {p: t for p, t in known.items() if (s := _stat(p)) is not None and s[1] == t}


def reap(known: dict[int, int], *, grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM every process of ``known`` (pid: start time) still alive, with its descendants;
    SIGKILL those alive ``grace_s`` later."""
    targets = _alive(known)
    for pid in list(targets):
        targets.update(descendants(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in targets:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        ends = time.monotonic() + grace_s
        while (targets := _alive(targets)) and time.monotonic() < ends:
            time.sleep(0.05)
        if not targets:
            return


def main(argv: list[str]) -> None:
    """``reaper.py PID``: watch PID (this process's parent) and reap its descendants when it
    is gone."""
    parent = int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the parent's end ends the watch
    me = os.getpid()
    known: dict[int, int] = {}
    next_scan = 0.0
    while os.getppid() == parent:
        now = time.monotonic()
        if now >= next_scan:
            known = _alive(known)
            known.update(descendants(parent))
            known.pop(me, None)
            next_scan = now + SCAN_S
        time.sleep(PARENT_POLL_S)
    reap(known)


if __name__ == "__main__":
    main(sys.argv)

"""Reading /proc in tests, independently of the code under test (``bnpl.reaper``)."""

from __future__ import annotations

from pathlib import Path


def alive(pids: dict[int, int]) -> list[int]:
    """The pids still running (not zombies), with the same start time as when they were seen."""
    running = []
    for pid, started in pids.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and ")"
        if fields[0] not in ("Z", "X") and int(fields[19]) == started:
            running.append(pid)
    return running

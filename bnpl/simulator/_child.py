"""The process :class:`bnpl.simulator.process.BackgroundSimulator` starts (not a user command: run
``bnpl simulate serve``). It reads :class:`~bnpl.settings.SimulatorSettings` as JSON from stdin,
binds, announces its port on stdout (:data:`~bnpl.simulator.process.PORT_ANNOUNCEMENT`) and
serves until terminated, or until its parent is gone (``--parent-pid PID``, and
``--death-signal`` when the parent spawned it from its main thread: :func:`bnpl.reaper.watch_parent`)."""

from __future__ import annotations

import logging
import os
import sys

from bnpl.reaper import watch_parent
from bnpl.settings import SimulatorSettings
from bnpl.simulator.process import PORT_ANNOUNCEMENT
from bnpl.simulator.server import bind_socket, serve


def main() -> None:
    """Serve the simulator whose settings arrive on stdin; announce the bound port first."""
    args = sys.argv[1:]
    if "--parent-pid" in args:
        parent = int(args[args.index("--parent-pid") + 1])
        watch_parent(parent, death_signal="--death-signal" in args)
    settings = SimulatorSettings.model_validate_json(sys.stdin.read() or "{}")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sock = bind_socket(settings.host, settings.port)
    sys.stdout.write(f"{PORT_ANNOUNCEMENT}{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # nothing else goes to the parent's pipe
    serve(settings, sock=sock)


if __name__ == "__main__":
    main()

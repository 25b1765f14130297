"""Stopping a run on SIGINT or SIGTERM: whole days only, within seconds.

A signal does not raise in the middle of a load: :func:`stop_on_signals` turns it into a request
on the process's :data:`STOP`, which the run loop (:func:`bnpl.ingest.run_range`: no new day is
started or loaded) and the source client (the request in flight is abandoned: its socket is shut
down, no retry follows) obey. The run then raises :class:`bnpl.errors.RunStoppedError`, whose
``exit_code`` is the shell's ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).

The CLI also arms a hard exit: if the process is still alive ``hard_exit_after_s`` after the
signal (a fetch thread in a retry back-off, a slow teardown), or a second signal arrives, it ends
with ``os._exit`` and the same code. A day's load is one transaction, so an exit at any point
leaves whole days only; the children's watchdog (:mod:`bnpl.reaper`) stops what the process
started.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import NoReturn

logger = logging.getLogger(__name__)

HARD_EXIT_AFTER_S = 4.0
"""Seconds the CLI gives a stopped run to end by itself before it exits anyway: within the 5 s an
operator may expect, whatever a thread is blocked on."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""The signals that stop a run (Ctrl-C, ``kill``, ``timeout``, a container stop)."""


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2, ``SIGTERM`` for 15, ``signal 42`` for an unnamed one."""
    with suppress(ValueError):
        return signal.Signals(signum).name
    return f"signal {signum}"


class StopRequest:
    """A request to stop, set once (by a signal) and read by every thread of a run.

    Callbacks registered with :meth:`on_request` run once, in a thread of their own, when the
    stop is requested (at once if it was already): they abandon work in flight, e.g. shut down a
    socket a fetch thread is blocked on.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_id = 0
        self.signum: int | None = None
        self.handler: Callable[[int, FrameType | None], None] | None = None
        """The signal handler of the outermost :func:`stop_on_signals` block, while it runs."""

    def is_set(self) -> bool:
        """Whether a stop was requested."""
        return self._event.is_set()

    @property
    def exit_code(self) -> int:
        """The shell's code for death by the signal: ``128 + signum`` (1 if none was recorded)."""
        return 128 + self.signum if self.signum is not None else 1

    def describe(self) -> str:
        """``SIGTERM`` (the signal that asked for the stop), or ``a stop request``."""
        return signal_name(self.signum) if self.signum is not None else "a stop request"

    def request(self, signum: int) -> None:
        """Ask every reader to stop; the first signal is the one recorded. Safe in a signal
        handler: the callbacks run in a new thread."""
        if self._event.is_set():
            return
        self.signum = signum
        self._event.set()
        threading.Thread(target=self._run_callbacks, name="stop", daemon=True).start()

    def on_request(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when a stop is requested (now, if it was); returns the function that
        unregisters it."""
        with self._lock:
            key = self._next_id
            self._next_id += 1
            self._callbacks[key] = callback
        if self._event.is_set():
            self._run_callbacks()

        def unregister() -> None:
            with self._lock:
                self._callbacks.pop(key, None)

        return unregister

    def clear(self) -> None:
        """Forget a request (a notebook runs again after a stopped run)."""
        self._event.clear()
        self.signum = None

    def _run_callbacks(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one callback's failure must not keep the others from running
                logger.debug("a stop callback failed", exc_info=True)


STOP = StopRequest()
"""The process's stop request (a signal is process-wide)."""

_Handler = Callable[[int, FrameType | None], object] | int | None


@contextmanager
def stop_on_signals(
    stop: StopRequest = STOP, *, hard_exit_after_s: float | None = None
) -> Iterator[StopRequest]:
    """While the block runs, SIGINT and SIGTERM request ``stop`` instead of raising.

    Signals are handled in the main thread only; elsewhere (a worker thread) this is a no-op.
    With ``hard_exit_after_s`` (the CLI's choice, never a notebook's), the process also ends with
    ``os._exit(stop.exit_code)`` that many seconds after the first signal, or at a second one,
    whatever is still running. The previous handlers are restored on exit; the hard exit, once
    armed, stays armed until the process ends. An outermost block clears an earlier request
    (a notebook runs again after a stopped run). Inside a block that handles the signals for the
    same ``stop`` already (the CLI's, around a run's own), that handler stays: a handler installed
    in between (Prefect's SIGTERM bridge in a flow run) is replaced for the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    outer = stop.handler
    if outer is None:
        stop.clear()  # a new run in this process (a notebook's, after a stopped one)

        def handle(signum: int, _frame: FrameType | None) -> None:
            if stop.is_set():
                if hard_exit_after_s is not None:  # logging here could deadlock: a thread does it
                    threading.Thread(
                        target=_hard_exit, args=(stop, "at a second signal"), daemon=True
                    ).start()
                return
            stop.request(signum)
            if hard_exit_after_s is not None:
                _arm_hard_exit(stop, hard_exit_after_s)

        stop.handler = handle
    mine = stop.handler
    previous: dict[int, _Handler] = {}
    try:
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is not mine:
                previous[signum] = signal.signal(signum, mine)
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        if outer is None:
            stop.handler = None


def _arm_hard_exit(stop: StopRequest, after_s: float) -> None:
    def wait_then_exit() -> None:
        threading.Event().wait(after_s)
        _hard_exit(stop, f"{after_s:g} s after {stop.describe()}")

    threading.Thread(target=wait_then_exit, name="hard-exit", daemon=True).start()


def _hard_exit(stop: StopRequest, why: str) -> None:
    logger.error(
        "stopped by %s: still running %s, exiting now. Days not loaded are not in the ledger; "
        "run the same command again to load them (loaded days are skipped)",
        stop.describe(),
        why,
    )
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(stop.exit_code)


def exit_stopped(stop: StopRequest = STOP) -> NoReturn:
    """End a stopped process now with ``stop.exit_code``: logging is flushed (and shut down),
    then ``os._exit`` skips the exit handlers and the interpreter's teardown.

    A normal exit after a stopped Prefect run took 8-10 s collecting the run's objects (measured;
    the hard-exit thread is frozen by then), and Prefect's own exit handler waits up to 5 s for
    its temporary API to stop: the reaper (:mod:`bnpl.reaper`) stops the children instead, within
    about 0.1 s of the exit.
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    with suppress(Exception):
        logging.shutdown()
    os._exit(stop.exit_code)

"""``store.quiet`` hides MLflow's chatter on the thread that talks to MLflow, and only there:
``bnpl serve`` logs its warm-up and requests on the loop thread while the champion poller is
inside a quiet block."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from bnpl.cli import _StderrHandler
from bnpl.governance import store


class Captured:
    """A text stream that keeps what was written (and can be closed)."""

    def __init__(self) -> None:
        self.text = ""
        self.closed = False

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        self.text += text
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def captured_stderr() -> Iterator[Captured]:
    """``sys.stderr`` for the block (in the test's body: pytest swaps its own in per phase)."""
    captured = Captured()
    with contextlib.redirect_stderr(captured):  # type: ignore[type-var]
        yield captured


def test_quiet_drops_its_own_threads_stderr_and_warnings_and_no_other_threads() -> None:
    """While one thread is inside ``quiet``, its prints and warnings vanish; another thread's
    log line (through bnpl's stderr handler) and warning still arrive; stderr is restored after."""
    inside, release = threading.Event(), threading.Event()
    shown: list[str] = []

    def poller() -> None:
        with store.quiet():
            print("Successfully registered model", file=sys.stderr)
            warnings.warn("pickled with another version", UserWarning, stacklevel=1)
            inside.set()
            release.wait(10)
            print("Created version 2", file=sys.stderr)

    logger = logging.getLogger("bnpl.test_store_quiet")
    handler = _StderrHandler()
    logger.addHandler(handler)
    try:
        with captured_stderr() as stderr, warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *_a, **_k: shown.append(str(message))
            thread = threading.Thread(target=poller)
            thread.start()
            assert inside.wait(10)
            logger.warning("scoring path warmed")
            warnings.warn("from the loop thread", UserWarning, stacklevel=1)
            release.set()
            thread.join(10)
            restored = sys.stderr
    finally:
        logger.removeHandler(handler)
    assert "scoring path warmed" in stderr.text
    assert "registered" not in stderr.text and "Created" not in stderr.text
    assert shown == ["from the loop thread"]
    assert restored is stderr


def test_quiet_nests_and_restores_stderr_and_the_warning_display(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nested blocks on one thread stay quiet until the outer one ends; then prints and the
    warning display are what they were before."""
    stderr, showwarning = sys.stderr, warnings.showwarning
    with store.quiet():
        with store.quiet():
            print("inner", file=sys.stderr)
        print("after the inner block", file=sys.stderr)
    print("after the outer block", file=sys.stderr)
    assert capsys.readouterr().err == "after the outer block\n"
    assert sys.stderr is stderr and warnings.showwarning is showwarning


def _enter(manager: Any) -> Any:
    manager.__enter__()
    return manager


def test_a_catch_warnings_that_outlives_a_quiet_block_leaves_a_display_that_works() -> None:
    """``catch_warnings`` entered inside a quiet block and left after it puts the quiet hook
    back: warnings still show (and a later quiet block still drops its own)."""
    shown: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_a, **_k: shown.append(str(message))
        block = _enter(store.quiet())
        other = _enter(warnings.catch_warnings())
        block.__exit__(None, None, None)
        other.__exit__(None, None, None)
        warnings.warn("after both", UserWarning, stacklevel=1)
        with store.quiet():
            warnings.warn("inside a later block", UserWarning, stacklevel=1)
        warnings.warn("after the later block", UserWarning, stacklevel=1)
    assert shown == ["after both", "after the later block"]


def test_a_capture_that_ends_after_a_quiet_block_does_not_leave_stderr_closed() -> None:
    """A capture saved the quiet block's stderr and puts it back after a second block wrapped the
    capture's (now closed) stream: the last block out restores the original stream."""
    with captured_stderr() as stderr:
        first = _enter(store.quiet())
        saved, capture = sys.stderr, Captured()
        sys.stderr = capture  # type: ignore[assignment]
        first.__exit__(None, None, None)
        second = _enter(store.quiet())
        sys.stderr, capture.closed = saved, True
        second.__exit__(None, None, None)
        print("still writable", file=sys.stderr)
        restored = sys.stderr
    assert restored is stderr and stderr.text == "still writable\n"


def test_the_stream_stays_a_text_stream_and_writelines_is_muted_too() -> None:
    """Bytes are refused as by any text stream (click probes with them); ``writelines`` on the
    quiet thread is dropped like ``write``."""
    with captured_stderr() as stderr:
        with store.quiet():
            with pytest.raises(TypeError, match="must be str"):
                sys.stderr.write(b"")  # type: ignore[arg-type]
            sys.stderr.writelines(["dropped\n"])
        sys.stderr.writelines(["shown\n"])
    assert stderr.text == "shown\n"


def test_overlapping_blocks_on_two_threads_give_mlflows_logger_its_level_back() -> None:
    """MLflow's loggers are at WARNING while any thread is in a block, and at their own level
    once the last one leaves, whichever thread leaves last."""
    mlflow_logger = logging.getLogger("mlflow")
    before = mlflow_logger.level
    mlflow_logger.setLevel(logging.DEBUG)
    try:
        inside, release = threading.Event(), threading.Event()

        def other() -> None:
            with store.quiet():
                inside.set()
                release.wait(10)

        block = _enter(store.quiet())
        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(10)
        block.__exit__(None, None, None)
        assert mlflow_logger.level == logging.WARNING
        release.set()
        thread.join(10)
        assert mlflow_logger.level == logging.DEBUG
    finally:
        mlflow_logger.setLevel(before)

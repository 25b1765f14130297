"""``store.quiet`` hides MLflow's chatter on the thread that talks to MLflow, and only there:
``bnpl serve`` logs its warm-up and requests on the loop thread while the champion poller is
inside a quiet block."""

from __future__ import annotations

import logging
import sys
import threading
import warnings

import pytest

from bnpl.cli import _StderrHandler
from bnpl.governance import store


def test_quiet_drops_its_own_threads_stderr_and_warnings_and_no_other_threads() -> None:
    """While one thread is inside ``quiet``, its prints and warnings vanish; another thread's
    log line (through bnpl's stderr handler) and warning still arrive; stderr is restored after."""
    inside, release = threading.Event(), threading.Event()

    def poller() -> None:
        with store.quiet():
            print("Successfully registered model", file=sys.stderr)
            warnings.warn("pickled with another version", UserWarning, stacklevel=1)
            inside.set()
            release.wait(10)
            print("Created version 2", file=sys.stderr)

    class Captured:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    captured = Captured()
    real_stderr = sys.stderr
    sys.stderr = captured  # type: ignore[assignment]
    logger = logging.getLogger("bnpl.test_store_quiet")
    handler = _StderrHandler()
    logger.addHandler(handler)
    try:
        thread = threading.Thread(target=poller)
        thread.start()
        assert inside.wait(10)
        logger.warning("scoring path warmed")
        with pytest.warns(UserWarning, match="from the loop thread"):
            warnings.warn("from the loop thread", UserWarning, stacklevel=1)
        release.set()
        thread.join(10)
        restored = sys.stderr
    finally:
        logger.removeHandler(handler)
        sys.stderr = real_stderr
    assert "scoring path warmed" in captured.text
    assert "registered" not in captured.text and "Created" not in captured.text
    assert restored is captured


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

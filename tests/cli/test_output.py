"""bnpl.cli.output: plain progress lines with counts, rate and ETA; JSON refused where there is
no summary."""

from __future__ import annotations

import logging

import pytest

from bnpl.cli import output
from bnpl.errors import ConfigError
from bnpl.progress import ProgressEvent


def test_progress_line_has_counts_rate_and_eta():
    """Counts and share; the rate and ETA once a step is done; the total time at the end."""
    assert output.progress_line(ProgressEvent("ingest", 0, 366), 0.0) == ("ingest 0/366 days (0 %)")
    assert output.progress_line(ProgressEvent("ingest", 122, 366), 10.0) == (
        "ingest 122/366 days (33 %), 12.2 days/s, ETA 20 s"
    )
    assert output.progress_line(ProgressEvent("check", 4, 4, "x"), 2.0) == (
        "check 4/4 checks (100 %), 2.0 checks/s, 2.0 s"
    )


def test_plain_progress_logs_start_end_and_at_most_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
):
    """The first and last events are logged; events in between only once per interval."""
    plain = output._PlainProgress(interval_s=3600)
    with caplog.at_level(logging.INFO, logger="bnpl.progress"):
        for done in range(11):
            plain(ProgressEvent("build", done, 10, f"m{done}"))
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "build 0/10 models",
        "build 10/10 models",
    ]
    every = output._PlainProgress(interval_s=0)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bnpl.progress"):
        for done in range(4):
            every(ProgressEvent("check", done, 3))
    assert len(caplog.records) == 4


def test_json_is_refused_for_a_command_without_a_summary(monkeypatch: pytest.MonkeyPatch):
    """want_json: fine for the summary commands, a ConfigError (exit 2) naming them otherwise."""
    monkeypatch.setattr(output, "OUTPUT", output.Output())
    assert output.want_json("status", True) is True
    with pytest.raises(ConfigError, match="`bnpl report` has no summary"):
        output.want_json("report", False)

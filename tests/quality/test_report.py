"""The HTML report renders offline and contains its charts and the results table."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from quality_data import END, LOADED, START, Knobs, make_day, request

from bnpl.calendar import iter_days
from bnpl.errors import ConfigError
from bnpl.quality import all_checks, build_report, run_checks, write_report, write_results
from bnpl.settings import DuckDBSettings, QualitySettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

SETTINGS = QualitySettings()
BAD_DAY = date(2024, 12, 4)


class Elements(HTMLParser):
    """Counts tags and classes, keeps every attribute value and the ids of figures."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.classes: Counter[str] = Counter()
        self.values: list[str] = []
        self.open: list[str] = []
        self.unbalanced = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.values.append(value or "")
            if name == "class":
                self.classes.update((value or "").split())
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.unbalanced += 1


@pytest.fixture(scope="module")
def html(clean_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of the clean warehouse with one half-volume day and a stored run (built once
    for the module's read-only tests)."""
    path = tmp_path_factory.mktemp("report") / "warehouse.duckdb"
    shutil.copy(clean_db, path)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        warehouse.load_day(make_day(BAD_DAY, Knobs(count=request(BAD_DAY).expected_volume // 2)))
        results = run_checks(warehouse, SETTINGS, start=START, end=END, logical_date=END)
        write_results(
            warehouse,
            results,
            run_id="run-r",
            logical_date=END,
            start=START,
            end=END,
            checked_at=datetime.now(UTC),
        )
        return build_report(warehouse, SETTINGS)
    finally:
        warehouse.close()


def parse(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


def test_report_is_self_contained(html: str) -> None:
    """No URL, script, stylesheet link or external reference: the file opens offline."""
    assert not re.search(r"https?://", html)
    elements = parse(html)
    assert elements.tags["script"] == 0 and elements.tags["link"] == 0 and elements.tags["img"] == 0
    assert not any(v.startswith(("//", "data:", "file:")) for v in elements.values)
    assert elements.unbalanced == 0 and elements.open == []


def test_report_has_the_three_charts_with_their_series(html: str) -> None:
    """Volume (observed, expected, band, weekends, holidays, the flagged day), quarantine and drift charts."""
    elements = parse(html)
    assert elements.tags["svg"] == 3
    for figure in ("chart-volume", "chart-quarantine", "chart-drift"):
        assert f'id="{figure}"' in html
    for cls in (
        "series-observed",
        "series-expected",
        "band",
        "series-quarantine-rate",
        "series-psi-amount",
        "series-psi-risk-score",
        "series-psi-category-mix",
    ):
        assert elements.classes[cls] >= 1, cls
    days = list(iter_days(*LOADED))
    assert elements.classes["weekend"] == sum(d.weekday() >= 5 for d in days)
    assert (
        elements.classes["holiday"] == 6
    )  # Columbus, Veterans, Thanksgiving, Black Friday, Cyber Monday, Christmas
    assert elements.classes["flagged"] == 1
    assert elements.classes["threshold"] == 3  # quarantine limit, PSI warn, PSI error


def test_report_lists_every_check_result_of_the_run(html: str) -> None:
    """The results table has one row per check with its status; the failing check is shown as fail."""
    table = html[html.index('<table id="results">') :]
    rows = re.findall(r"<tr><td>([a-z_]+)</td>", table)
    assert sorted(rows) == sorted(c.name for c in CHECKS)
    assert re.search(r"<td>volume_vs_expected</td>.*?status-fail", table)
    assert "run-r" in html


def test_write_report_creates_the_file(warehouse: DuckDBWarehouse, tmp_path: Path) -> None:
    """write_report writes the HTML to the given path, creating its directory."""
    out = write_report(warehouse, SETTINGS, tmp_path / "out" / "report.html", start=START, end=END)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "No gate run has stored results yet" in text


def test_report_of_an_empty_warehouse_says_what_to_do(tmp_path: Path) -> None:
    """Without loaded days the report refuses with a ConfigError pointing to bnpl backfill."""
    empty = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "empty.duckdb"))
    try:
        with pytest.raises(ConfigError, match="bnpl backfill"):
            build_report(empty, SETTINGS)
    finally:
        empty.close()

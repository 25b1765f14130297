"""The self-contained HTML report (``bnpl report``): charts and the latest results.

Charts: daily volume against the expected band with weekends shaded and holidays marked; the
quarantine rate over time; daily PSI of amount, risk score and category mix against the trailing
window; the newest model monitor run (``bnpl_audit.model_monitor``). Then the results of a gate
run. One file, inline CSS and SVG, no script, no external
fetch: it opens offline.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path

import polars as pl
from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.quality.charts import PALETTE, Series, line_chart, volume_chart
from bnpl.quality.checks import all_checks
from bnpl.quality.context import CheckContext, loaded_range
from bnpl.quality.drift import psi_series
from bnpl.quality.store import read_results
from bnpl.settings import QualitySettings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import MARTS, MODEL_MONITOR, QUARANTINE

logger = logging.getLogger(__name__)

DRIFT_FEATURES = (
    ("amount", "amount"),
    ("risk_score", "risk score"),
    ("product_category", "category mix"),
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px 32px;
       color: #222; max-width: 1280px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.meta { color: #555; font-size: 13px; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { border: 1px solid #dee2e6; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
figure { margin: 8px 0 4px; border: 1px solid #e9ecef; border-radius: 6px; padding: 6px; }
figcaption { font-size: 12px; color: #555; margin: 4px 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { border-bottom: 1px solid #e9ecef; padding: 5px 6px; text-align: left; vertical-align: top; }
th { background: #f8f9fa; }
.status { font-weight: 600; padding: 1px 6px; border-radius: 4px; }
.status-pass { background: #d3f9d8; color: #2b8a3e; } .status-warn { background: #fff3bf; color: #946200; }
.status-fail, .status-error { background: #ffe3e3; color: #c92a2a; }
.status-skip { background: #f1f3f5; color: #666; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
"""


def build_report(
    warehouse: Warehouse,
    settings: QualitySettings,
    *,
    start: date | None = None,
    end: date | None = None,
    run_id: str | None = None,
) -> str:
    """The report as one HTML document.

    Args:
        start, end: days to chart (default: everything in the ledger).
        run_id: the gate run whose results are listed (default: the newest).

    Raises:
        ConfigError: nothing is loaded and no range was given.
    """
    if start is None or end is None:
        found = loaded_range(warehouse)
        if found is None:
            raise ConfigError("the ledger is empty; load days with `bnpl backfill` first")
        start, end = start or found[0], end or found[1]
    ctx = CheckContext(
        warehouse, settings, start=start, end=end, logical_date=end, marts_dataset=MARTS
    )
    daily = ctx.in_range
    results = read_results(warehouse, run_id)
    sections = [
        _header(ctx, daily, results),
        _volume_section(daily),
        _quarantine_section(daily, settings),
        _drift_section(ctx, settings),
        _model_section(warehouse),
        _results_section(results),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>bnpl data quality {start} .. {end}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def write_report(
    warehouse: Warehouse,
    settings: QualitySettings,
    out: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    run_id: str | None = None,
) -> Path:
    """Write :func:`build_report` to ``out`` (parent directories created); return the path."""
    html = build_report(warehouse, settings, start=start, end=end, run_id=run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    logger.info("wrote the quality report to %s (%d bytes)", out, len(html))
    return out


def _header(ctx: CheckContext, daily: pl.DataFrame, results: pl.DataFrame) -> str:
    loaded = daily.filter(pl.col("has_ledger"))
    counts = {
        s: int((results["status"] == s).sum()) if results.height else 0
        for s in ("pass", "warn", "fail", "error", "skip")
    }
    run = results["run_id"][0] if results.height else "none yet"
    cards = [
        ("days loaded", f"{loaded.height} / {daily.height}"),
        ("transactions", f"{int(daily['transactions'].sum()):,}"),
        ("quarantined", f"{int(daily['quarantined_rows'].sum()):,}"),
        ("checks passed", str(counts["pass"])),
        ("warnings", str(counts["warn"])),
        ("failed", str(counts["fail"] + counts["error"])),
    ]
    html_cards = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
    return (
        f"<h1>bnpl data quality: {ctx.start} .. {ctx.end}</h1>\n"
        f'<p class="meta">Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; results of gate run '
        f'<code>{escape(str(run))}</code>.</p>\n<div class="cards">{html_cards}</div>'
    )


def _nullable(frame: pl.DataFrame, column: str) -> list[float | None]:
    return [None if v is None else float(v) for v in frame[column].to_list()]


def _volume_section(daily: pl.DataFrame) -> str:
    has = daily["has_ledger"].to_list()
    observed = [
        float(v) if h else None for v, h in zip(daily["arrived"].to_list(), has, strict=True)
    ]
    svg = volume_chart(
        daily["day"].to_list(),
        observed,
        _nullable(daily, "expected"),
        _nullable(daily, "model_lo"),
        _nullable(daily, "model_hi"),
        flagged=daily.select(
            pl.col("has_ledger")
            & ~pl.col("arrived").is_between(pl.col("band_lo"), pl.col("band_hi"))
        )
        .to_series()
        .fill_null(False)
        .to_list(),
        weekend=daily["weekend"].to_list(),
        holidays=daily["holiday"].to_list(),
        title="Daily volume against the expected band",
    )
    return (
        '<h2>Daily volume</h2>\n<figure id="chart-volume">' + svg + "<figcaption>Records that "
        "arrived per day (loaded + quarantined) against simtom's volume model for the day's "
        "request. The dashed line is the expected count (exact for seeded requests, the median "
        "otherwise); the shaded band is the model's day-to-day noise band. Red circles mark days "
        "the volume check rejects. Grey columns are weekends; red dashed lines are holidays."
        "</figcaption></figure>"
    )


def _quarantine_section(daily: pl.DataFrame, settings: QualitySettings) -> str:
    rate = daily.with_columns(
        rate=pl.when(pl.col("records_received") > 0).then(
            pl.col("records_quarantined") / pl.col("records_received")
        )
    )
    svg = line_chart(
        rate["day"].to_list(),
        [Series("quarantine rate", _nullable(rate, "rate"), PALETTE[1])],
        title="Quarantine rate per day",
        y_label="share of received records",
        thresholds={f"limit {settings.quarantine_rate_max:.1%}": settings.quarantine_rate_max},
        percent=True,
    )
    return (
        '<h2>Quarantine rate</h2>\n<figure id="chart-quarantine">' + svg + "<figcaption>Share of "
        "each day's received records that failed framing, parsing or the contract (see "
        f"{QUARANTINE}).</figcaption></figure>"
    )


def _drift_section(ctx: CheckContext, settings: QualitySettings) -> str:
    series = []
    days: list[date] = ctx.in_range["day"].to_list()
    for i, (feature, label) in enumerate(DRIFT_FEATURES):
        psi = psi_series(ctx, feature)
        series.append(
            Series(f"PSI {label}", _nullable(psi, "psi"), PALETTE[(i * 2) % len(PALETTE)])
        )
    svg = line_chart(
        days,
        series,
        title="Feature drift: daily PSI against the trailing window",
        y_label="PSI",
        thresholds={
            f"warn {settings.psi_warn}": settings.psi_warn,
            f"error {settings.psi_error}": settings.psi_error,
        },
    )
    return (
        '<h2>Feature drift</h2>\n<figure id="chart-drift">' + svg + "<figcaption>Population "
        f"stability index of each day against the {settings.drift_window_days} days before it "
        f"(days with under {settings.drift_min_day_rows} rows or "
        f"{settings.drift_min_reference_days} reference days are not scored).</figcaption></figure>"
    )


def _model_section(warehouse: Warehouse) -> str:
    """The newest ``bnpl model monitor`` run: the logged scores on matured outcomes."""
    title = "<h2>Model on matured outcomes</h2>\n"
    rows = pl.DataFrame()
    if warehouse.table_exists(*MODEL_MONITOR):
        table = warehouse.table(*MODEL_MONITOR)
        newest_run = (  # the table grows by a run per monitor call: the newest run only, ties
            exp.select("run_id")  # resolved as bnpl.governance.monitor_figures.newest_run does
            .from_(table)
            .order_by("computed_at DESC", "run_id DESC")
            .limit(1)
        )
        query = exp.select("*").from_(table).where(exp.column("run_id").eq(newest_run.subquery()))
        rows = warehouse.query(warehouse.render(query))
    if rows.is_empty():
        return title + "<p>No monitor run yet: run <code>bnpl model monitor</code>.</p>"
    newest = rows["run_id"][0]
    run = rows.sort("model_version", "role", "period_start")
    first = run.row(0, named=True)
    body = "\n".join(
        "<tr>"
        f"<td>{r['model_version']}</td><td>{escape(r['role'])}</td><td>{r['period_start']}</td>"
        f'<td class="num">{r["scores"]:,}</td><td class="num">{r["matured"]:,}</td>'
        f'<td class="num">{_num(r["roc_auc"])}</td><td class="num">{_num(r["brier"])}</td>'
        f'<td class="num">{_num(r["ece"])}</td><td class="num">{_num(r["approval_rate"])}</td>'
        f'<td class="num">{_num(r["score_psi"])}</td></tr>'
        for r in run.iter_rows(named=True)
    )
    return (
        title + f'<p class="meta">{escape(first["registered_model"])}, monitor run '
        f"<code>{escape(newest)}</code>, outcomes matured by {first['as_of_date']}, per "
        f"{escape(first['grain'])}; score PSI against each version's first period.</p>\n"
        '<table id="model-monitor">\n<thead><tr><th>version</th><th>role</th><th>period</th>'
        "<th>scores</th><th>matured</th><th>ROC AUC</th><th>Brier</th><th>ECE</th>"
        f"<th>approval rate</th><th>score PSI</th></tr></thead>\n<tbody>\n{body}\n</tbody>\n"
        "</table>"
    )


def _results_section(results: pl.DataFrame) -> str:
    if results.height == 0:
        return "<h2>Check results</h2>\n<p>No gate run has stored results yet: run <code>bnpl check</code>.</p>"
    order = {c.name: i for i, c in enumerate(all_checks())}  # a user's checks go last
    rows = sorted(
        results.iter_rows(named=True), key=lambda r: order.get(r["check_name"], len(order))
    )
    body = "\n".join(
        "<tr>"
        f"<td>{escape(r['check_name'])}</td><td>{escape(r['category'])}</td>"
        f"<td>{escape(r['model'])}</td><td>{escape(r['severity'])}</td>"
        f'<td><span class="status status-{escape(r["status"])}">{escape(r["status"])}</span></td>'
        f'<td class="num">{_num(r["observed_value"])}</td><td class="num">{_num(r["threshold"])}</td>'
        f"<td>{escape(r['details'])}</td></tr>"
        for r in rows
    )
    return (
        '<h2>Check results</h2>\n<table id="results">\n<thead><tr><th>check</th><th>category</th>'
        "<th>model</th><th>severity</th><th>status</th><th>observed</th><th>threshold</th>"
        f"<th>details</th></tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )


def _num(value: float | None) -> str:
    return "" if value is None else escape(f"{value:.4g}")

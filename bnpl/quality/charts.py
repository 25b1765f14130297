"""Inline SVG charts for the HTML report: pure functions from series to SVG text.

No external script or font: the SVG is written here and embedded in the page, so the report opens
offline. Every element carries a ``class`` (``series-…``, ``band``, ``weekend``, ``holiday``,
``threshold``) so tests can find what was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH = 1200
HEIGHT = 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 34, 48
PALETTE = ("#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#e8590c")


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``values[i]`` belongs to ``days[i]``; None leaves a gap."""

    name: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class _Frame:
    days: Sequence[date]
    y_max: float

    @property
    def plot_w(self) -> float:
        return WIDTH - _LEFT - _RIGHT

    @property
    def plot_h(self) -> float:
        return HEIGHT - _TOP - _BOTTOM

    def x(self, index: float) -> float:
        span = max(len(self.days) - 1, 1)
        return _LEFT + self.plot_w * index / span

    def y(self, value: float) -> float:
        return _TOP + self.plot_h * (1 - value / self.y_max if self.y_max else 1)

    @property
    def day_w(self) -> float:
        return self.plot_w / max(len(self.days) - 1, 1)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(math.ceil(top / step) + 1)]


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.1%}" if value < 0.1 else f"{value:.0%}"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _polyline(frame: _Frame, series: Series) -> str:
    parts: list[list[str]] = [[]]
    for i, v in enumerate(series.values):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if parts[-1]:
                parts.append([])
            continue
        parts[-1].append(f"{frame.x(i):.1f},{frame.y(v):.1f}")
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    css = "series-" + series.name.lower().replace(" ", "-")
    lines = [
        f'<polyline class="series {css}" fill="none" stroke="{series.color}" stroke-width="1.6"'
        f'{dash} points="{" ".join(p)}"/>'
        for p in parts
        if len(p) > 1
    ]
    dots = [
        f'<circle class="series {css}" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2" '
        f'fill="{series.color}"/>'
        for p in (q[0] for q in parts if len(q) == 1)
    ]
    return "\n".join(lines + dots)


def _axes(frame: _Frame, ticks: list[float], percent: bool, y_label: str) -> str:
    out = []
    for t in ticks:
        y = frame.y(t)
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(_fmt(t, percent))}</text>'
        )
    months = [i for i, d in enumerate(frame.days) if d.day == 1 or i == 0]
    if len(frame.days) <= 62:
        months = [i for i, d in enumerate(frame.days) if d.weekday() == 0 or i == 0]
    for i in months:
        d = frame.days[i]
        label = d.strftime("%b %Y") if len(frame.days) > 62 else d.strftime("%d %b")
        x = frame.x(i)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - _BOTTOM}" y2="{HEIGHT - _BOTTOM + 5}" '
            'stroke="#555"/>'
            f'<text class="x-label" x="{x:.1f}" y="{HEIGHT - _BOTTOM + 18}" text-anchor="middle" '
            f'font-size="11" fill="#555">{escape(label)}</text>'
        )
    out.append(
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{HEIGHT - _BOTTOM}" y2="{HEIGHT - _BOTTOM}" '
        'stroke="#555"/>'
        f'<text x="16" y="{_TOP + frame.plot_h / 2:.1f}" font-size="11" fill="#555" '
        f'transform="rotate(-90 16 {_TOP + frame.plot_h / 2:.1f})" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    return "\n".join(out)


def _legend(entries: Sequence[tuple[str, str, str]]) -> str:
    """Entries of (label, color, kind) with kind ``line``, ``dashed``, ``area`` or ``dot``."""
    out, x = [], _LEFT
    for label, color, kind in entries:
        if kind == "area":
            mark = f'<rect x="{x}" y="8" width="18" height="10" fill="{color}"/>'
        elif kind == "dot":
            mark = f'<circle cx="{x + 9}" cy="13" r="5" fill="none" stroke="{color}" stroke-width="2"/>'
        else:
            dash = ' stroke-dasharray="6 4"' if kind == "dashed" else ""
            mark = f'<line x1="{x}" x2="{x + 18}" y1="13" y2="13" stroke="{color}" stroke-width="2"{dash}/>'
        out.append(
            f'{mark}<text x="{x + 24}" y="17" font-size="12" fill="#222">{escape(label)}</text>'
        )
        x += 32 + 7 * len(label)
    return '<g class="legend">' + "".join(out) + "</g>"


def _svg(title: str, body: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet">\n<title>{escape(title)}</title>\n'
        f"{body}\n</svg>"
    )


def _weekends(frame: _Frame, weekend: Sequence[bool]) -> str:
    w = frame.day_w
    return "\n".join(
        f'<rect class="weekend" x="{frame.x(i) - w / 2:.1f}" y="{_TOP}" width="{w:.1f}" '
        f'height="{frame.plot_h:.1f}" fill="#f1f3f5"/>'
        for i, is_weekend in enumerate(weekend)
        if is_weekend
    )


def _holidays(frame: _Frame, holidays: Sequence[str | None]) -> str:
    out = []
    last_x, shift = -1e9, 0.0
    for i, name in enumerate(holidays):
        if not name:
            continue
        x = frame.x(i)
        # labels of holidays a few days apart would overprint: alternate them up and down
        shift = (95.0 if shift == 0 else 0.0) if x - last_x < 14 else 0.0
        last_x = x
        y = _TOP + 10 + shift
        out.append(
            f'<g class="holiday"><line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" '
            f'y2="{HEIGHT - _BOTTOM}" stroke="#c92a2a" stroke-width="1" stroke-dasharray="2 3"/>'
            f'<text x="{x + 3:.1f}" y="{y:.1f}" font-size="10" fill="#c92a2a" '
            f'transform="rotate(90 {x + 3:.1f} {y:.1f})">{escape(name)}</text>'
            f"<title>{escape(name)}</title></g>"
        )
    return "\n".join(out)


def _flags(frame: _Frame, values: Sequence[float | None], flagged: Sequence[bool]) -> str:
    return "\n".join(
        f'<circle class="flagged" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="6" fill="none" '
        'stroke="#e03131" stroke-width="2"/>'
        for i, (v, flag) in enumerate(zip(values, flagged, strict=True))
        if flag and v is not None
    )


def volume_chart(
    days: Sequence[date],
    observed: Sequence[float | None],
    expected: Sequence[float | None],
    band_lo: Sequence[float | None],
    band_hi: Sequence[float | None],
    *,
    flagged: Sequence[bool],
    weekend: Sequence[bool],
    holidays: Sequence[str | None],
    title: str,
) -> str:
    """Daily volume against the expected band, weekends shaded, holidays marked, and the days in
    ``flagged`` (outside what the volume check accepts) circled in red."""
    top = max([v for v in (*observed, *band_hi, *expected) if v is not None] or [1.0])
    ticks = nice_ticks(top)
    frame = _Frame(days, ticks[-1])
    band_points = [
        (i, lo, hi)
        for i, (lo, hi) in enumerate(zip(band_lo, band_hi, strict=True))
        if lo is not None and hi is not None
    ]
    band = ""
    if band_points:
        upper = " ".join(f"{frame.x(i):.1f},{frame.y(hi):.1f}" for i, _, hi in band_points)
        lower = " ".join(
            f"{frame.x(i):.1f},{frame.y(lo):.1f}" for i, lo, _ in reversed(band_points)
        )
        band = (
            f'<polygon class="band" points="{upper} {lower}" fill="#a5d8ff" fill-opacity="0.55"/>'
        )
    body = "\n".join(
        [
            _weekends(frame, weekend),
            _axes(frame, ticks, False, "records per day"),
            band,
            _polyline(frame, Series("observed", observed, PALETTE[0])),
            _polyline(frame, Series("expected", expected, "#343a40", dashed=True)),
            _holidays(frame, holidays),
            _flags(frame, observed, flagged),
            _legend(
                [
                    ("arrived (loaded + quarantined)", PALETTE[0], "line"),
                    ("expected", "#343a40", "dashed"),
                    ("model noise band", "#a5d8ff", "area"),
                    ("weekend", "#e9ecef", "area"),
                    ("holiday", "#c92a2a", "dashed"),
                    ("off expectation", "#e03131", "dot"),
                ]
            ),
        ]
    )
    return _svg(title, body)


def line_chart(
    days: Sequence[date],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    thresholds: Mapping[str, float] | None = None,
    percent: bool = False,
) -> str:
    """Lines over days with optional horizontal threshold lines."""
    values = [v for s in series for v in s.values if v is not None and not math.isnan(v)]
    limits = list((thresholds or {}).values())
    ticks = nice_ticks(max([*values, *limits, 1e-9]))
    frame = _Frame(days, ticks[-1])
    marks = []
    for label, value in (thresholds or {}).items():
        y = frame.y(value)
        marks.append(
            f'<g class="threshold"><line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#c92a2a" stroke-dasharray="4 4"/>'
            f'<text x="{WIDTH - _RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#c92a2a">{escape(label)}</text></g>'
        )
    body = "\n".join(
        [
            _axes(frame, ticks, percent, y_label),
            *marks,
            *(_polyline(frame, s) for s in series),
            _legend([(s.name, s.color, "dashed" if s.dashed else "line") for s in series]),
        ]
    )
    return _svg(title, body)

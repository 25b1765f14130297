"""Export of a training set: Parquet partitioned by month plus a data card, byte-identical for
the same as-of date over the same loaded data."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from bnpl import __version__
from bnpl.errors import ConfigError
from bnpl.features.training import (
    KEY_COLUMNS,
    LABEL,
    LABEL_COLUMNS,
    ROW_ORDER,
    SPLITS,
    TRAINING_SET,
    Feature,
    feature_columns,
    ledger_through,
    opened,
    training_frame,
)
from bnpl.models import Project, load_project
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse

logger = logging.getLogger(__name__)

PARQUET_ROW_GROUP = 65_536
"""Rows per Parquet row group (fixed, so files are byte-identical from run to run)."""
MATURITY_RULE = (
    "a row is included only when its label has matured: transaction_ts + 14 days x "
    "installment_count falls on or before the as-of day"
)
SPLIT_RULE = (
    "by transaction_date over the n days from the first included day to the last: "
    "days before first + floor(0.70 n) are train, before first + floor(0.85 n) validation, "
    "the rest test"
)
POINT_IN_TIME_RULE = (
    "a feature uses only the transaction's own checkout record, the calendar, the customer's "
    "transactions strictly before transaction_ts and the market on days before transaction_date"
)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote.

    Attributes:
        out_dir: the export directory.
        files: every file written, relative to ``out_dir``, sorted.
        card: the data card, as in ``card.json``.
    """

    out_dir: Path
    files: tuple[str, ...]
    card: Mapping[str, Any]


def write_partitions(frame: pl.DataFrame, out_dir: Path) -> dict[str, int]:
    """Write ``frame`` as ``month=YYYY-MM/part-0.parquet`` (month of ``transaction_date``), rows
    in :data:`ROW_ORDER`, with fixed writer settings. Returns rows per relative path."""
    months = frame.get_column("transaction_date").dt.strftime("%Y-%m")
    written: dict[str, int] = {}
    for month in sorted(months.unique().to_list()):
        part = frame.filter(months == month).sort(ROW_ORDER)
        relative = f"month={month}/part-0.parquet"
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        part.write_parquet(
            out_dir / relative,
            compression="zstd",
            compression_level=3,
            statistics=True,
            row_group_size=PARQUET_ROW_GROUP,
        )
        written[relative] = part.height
    return written


def _rate(positives: int, rows: int) -> float | None:
    return round(positives / rows, 6) if rows else None


def _day(value: object) -> str | None:
    return value.isoformat() if isinstance(value, date) else None


def _split_summary(part: pl.DataFrame) -> dict[str, Any]:
    positives = int(part.get_column(LABEL).sum())
    days = part.get_column("transaction_date")
    mix = part.get_column("installment_count").value_counts().sort("installment_count")
    return {
        "rows": part.height,
        "positives": positives,
        "label_rate": _rate(positives, part.height),
        "first_day": _day(days.min()),
        "last_day": _day(days.max()),
        "installment_mix": {str(k): int(n) for k, n in mix.iter_rows()},
    }


def build_card(
    frame: pl.DataFrame,
    *,
    as_of: date,
    features: Sequence[Feature],
    ledger: pl.DataFrame,
    files: Mapping[str, tuple[int, str]],
) -> dict[str, Any]:
    """The data card of a training set (pure): rows, positives and label rate per split, the
    rules, the feature list with definitions, the source batches and the files.

    ``ledger`` holds the batches the rows and their histories come from; ``files`` maps a relative
    path to (rows, sha256). No clock is read, so the same inputs give the same card.
    """
    positives = int(frame.get_column(LABEL).sum())
    instant = (as_of + timedelta(days=1)).isoformat()
    return {
        "dataset": TRAINING_SET,
        "as_of": as_of.isoformat(),
        "as_of_instant": f"before {instant}T00:00:00 (the end of the as-of day, naive event time)",
        "rows": frame.height,
        "label": LABEL,
        "positives": positives,
        "label_rate": _rate(positives, frame.height),
        "splits": {s: _split_summary(frame.filter(pl.col("split") == s)) for s in SPLITS},
        "maturity_rule": MATURITY_RULE,
        "split_rule": SPLIT_RULE,
        "point_in_time_rule": POINT_IN_TIME_RULE,
        "keys": list(KEY_COLUMNS),
        "labels": list(LABEL_COLUMNS),
        "features": [
            {"name": f.name, "type": f.type, "kind": f.kind, "definition": f.definition}
            for f in features
        ],
        "source_batches": {
            "count": ledger.height,
            "first_day": _day(ledger.get_column("transaction_date").min()),
            "last_day": _day(ledger.get_column("transaction_date").max()),
            "identity_scopes": sorted(set(ledger.get_column("identity_scope").drop_nulls())),
            "records_loaded": int(ledger.get_column("records_loaded").sum()),
            "batches": [
                {
                    "transaction_date": row["transaction_date"].isoformat(),
                    "batch_id": row["batch_id"],
                    "records_loaded": row["records_loaded"],
                    "content_sha256": row["content_sha256"],
                }
                for row in ledger.iter_rows(named=True)
            ],
        },
        "files": [
            {"path": path, "rows": rows, "sha256": digest}
            for path, (rows, digest) in sorted(files.items())
        ],
        "writer": {"bnpl": __version__, "polars": pl.__version__, "parquet": "zstd level 3"},
    }


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.2f} %"


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown (``card.md`` and the Prefect artifact)."""
    lines = [
        f"# Training set `{card['dataset']}` as of {card['as_of']}",
        "",
        f"- As of: {card['as_of_instant']}.",
        f"- Maturity: {card['maturity_rule']}.",
        f"- Split: {card['split_rule']}.",
        f"- Point in time: {card['point_in_time_rule']}.",
        f"- Rows: {card['rows']:,}; label `{card['label']}`: {card['positives']:,} positive "
        f"({_pct(card['label_rate'])}).",
        "",
        "| split | rows | positives | label rate | first day | last day | instalments: rows |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for name, s in card["splits"].items():
        mix = ", ".join(f"{k}: {v:,}" for k, v in s["installment_mix"].items()) or "-"
        lines.append(
            f"| {name} | {s['rows']:,} | {s['positives']:,} | {_pct(s['label_rate'])} | "
            f"{s['first_day'] or '-'} | {s['last_day'] or '-'} | {mix} |"
        )
    batches = card["source_batches"]
    scopes = ", ".join(batches["identity_scopes"]) or "-"
    lines += [
        "",
        f"Source batches: {batches['count']:,} loaded days, {batches['first_day'] or '-'} to "
        f"{batches['last_day'] or '-'}, {batches['records_loaded']:,} records, identity scope "
        f"{scopes}. Batch ids and content hashes are listed in card.json.",
        "",
        f"## Features ({len(card['features'])})",
        "",
        "| feature | type | definition |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{f['name']}` | {f['type']} | {f['definition'].replace('|', '/')} |"
        for f in card["features"]
    ]
    lines += ["", "## Files", "", "| file | rows | sha256 |", "|---|---:|---|"]
    lines += [f"| `{f['path']}` | {f['rows']:,} | `{f['sha256']}` |" for f in card["files"]]
    return "\n".join(lines) + "\n"


def export(
    as_of: date,
    out_dir: Path,
    *,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
    project: Project | None = None,
) -> ExportResult:
    """Write the training set as of ``as_of`` to ``out_dir``: Parquet partitioned by month
    (``month=YYYY-MM/part-0.parquet``), ``card.json`` and ``card.md``.

    The same as-of date over the same loaded data gives byte-identical files: fixed row order,
    fixed writer settings, no clock in any file. An earlier export in ``out_dir`` is replaced
    whole: the new one is written beside it, then swapped in.

    Raises:
        ConfigError: ``out_dir`` holds something that is not an export; a bad ``as_of``.
        ModelError: the feature marts are not built through ``as_of``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "card.json").is_file():
        raise ConfigError(
            f"{out_dir} is not empty and holds no card.json, so it is not a bnpl features "
            "export; choose a new or empty directory"
        )
    project = project or load_project(user_dir=settings.project.dir if settings else None)
    with opened(settings, warehouse) as wh:
        frame = training_frame(as_of=as_of, warehouse=wh, project=project)
        last_row_day = frame.get_column("transaction_date").max()
        ledger = ledger_through(wh, last_row_day if isinstance(last_row_day, date) else date.min)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary directory
    try:
        rows = write_partitions(frame, staging)
        files = {
            path: (n, hashlib.sha256((staging / path).read_bytes()).hexdigest())
            for path, n in rows.items()
        }
        card = build_card(
            frame, as_of=as_of, features=feature_columns(project), ledger=ledger, files=files
        )
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (staging / "card.md").write_text(card_markdown(card))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported %d rows as of %s to %s", frame.height, as_of, out_dir)
    return ExportResult(out_dir, tuple(sorted([*rows, "card.json", "card.md"])), card)

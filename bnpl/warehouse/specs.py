"""Tables declared as data in ``schemas/<dataset>/<table>.json`` (BigQuery table schema plus
partitioning and clustering): both adapters create their tables from these declarations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from bnpl.bundle import SCHEMAS_DIR
from bnpl.errors import WarehouseError
from bnpl.warehouse.names import DATASETS


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a declared table (BigQuery type names)."""

    name: str
    type: str
    nullable: bool
    description: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table declared in ``schemas/``."""

    dataset: str
    name: str
    description: str
    columns: tuple[Column, ...]
    partition_field: str | None
    clustering: tuple[str, ...]
    require_partition_filter: bool

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@cache
def table_spec(dataset: str, name: str) -> TableSpec:
    """Read ``schemas/<dataset>/<name>.json``.

    Raises:
        WarehouseError: when the file is missing or malformed.
    """
    path = SCHEMAS_DIR / dataset / f"{name}.json"
    try:
        doc = json.loads(path.read_text())
        columns = tuple(
            Column(
                f["name"],
                f["type"],
                f.get("mode", "NULLABLE") != "REQUIRED",
                f.get("description", ""),
            )
            for f in doc["fields"]
        )
    except (OSError, ValueError, KeyError) as exc:
        raise WarehouseError(f"cannot read table schema {path}: {exc}") from exc
    partitioning = doc.get("time_partitioning") or {}
    return TableSpec(
        dataset=dataset,
        name=name,
        description=doc.get("description", ""),
        columns=columns,
        partition_field=partitioning.get("field"),
        clustering=tuple(doc.get("clustering", ())),
        require_partition_filter=bool(doc.get("require_partition_filter", False)),
    )


def declared_tables() -> list[TableSpec]:
    """Every table declared under ``schemas/``, sorted by dataset and name."""
    return [
        table_spec(p.parent.name, p.stem)
        for p in sorted(SCHEMAS_DIR.glob("bnpl_*/*.json"))
        if p.parent.name in DATASETS
    ]

"""Reading one table: which columns, which days, written once for every engine.

:meth:`bnpl.warehouse.base.Warehouse.read_table` describes the table (its adapter's
:meth:`~bnpl.warehouse.base.Warehouse.describe_table`), checks the request against it and runs the
``SELECT`` built here: the chosen columns, and a ``WHERE`` on the table's partition column with the
days bound as parameters. On BigQuery that filter is what prunes partitions (only the chosen days
are scanned and billed); a table that requires a partition filter and is read whole gets one that
keeps every partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.sqltext import param
from bnpl.warehouse.names import DATASETS


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What a reader needs to know about an existing table.

    Attributes:
        columns: its column names, in table order.
        partition_column: the DATE column it is partitioned by (BigQuery's time partitioning; on
            DuckDB the declared one), or None.
        require_partition_filter: BigQuery refuses a query of it without a partition filter.
    """

    columns: tuple[str, ...]
    partition_column: str | None = None
    require_partition_filter: bool = False


def split_name(name: str) -> tuple[str, str]:
    """``"dataset.table"`` as ``(dataset, table)``.

    Raises:
        ConfigError: not ``dataset.table`` with one of the four datasets.
    """
    dataset, _, table = name.partition(".")
    if not table or "." in table or dataset not in DATASETS:
        raise ConfigError(
            f"table {name!r} is not 'dataset.table' with a dataset in {', '.join(DATASETS)}"
        )
    return dataset, table


def read_statement(
    name: str,
    table: exp.Table,
    info: TableInfo,
    *,
    columns: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    day_column: str | None = None,
) -> tuple[exp.Select, dict[str, Any]]:
    """The ``SELECT`` that reads ``columns`` (default: all) of ``table`` for ``start..end``
    (inclusive; either may be None for an open end), and its bound parameters.

    The days filter the table's partition column, or ``day_column`` when the warehouse knows none.

    Raises:
        ConfigError: an unknown column (the message lists the table's columns), an empty column
            list, a reversed range, or days asked of a table with no partition column.
    """
    chosen = list(columns) if columns is not None else list(info.columns)
    if isinstance(columns, str):
        chosen = [columns]
    if not chosen:
        raise ConfigError(f"read_table({name!r}, columns=[]): name at least one column")
    unknown = [c for c in chosen if c not in info.columns]
    if unknown:
        raise ConfigError(
            f"{name} has no column {', '.join(repr(c) for c in unknown)}; "
            f"its columns: {', '.join(info.columns)}"
        )
    if start is not None and end is not None and start > end:
        raise ConfigError(f"start {start} is after end {end}")
    select = exp.select(*(exp.column(c, quoted=True) for c in chosen)).from_(table)
    params: dict[str, Any] = {}
    partition = info.partition_column or day_column
    if start is None and end is None:
        if info.require_partition_filter and info.partition_column:
            # BigQuery's enforcement needs a filter on the column; this one keeps every partition
            select = select.where(
                exp.column(info.partition_column, quoted=True)
                >= exp.cast(exp.Literal.string("0001-01-01"), "DATE")
            )
        return select, params
    if partition is None:
        raise ConfigError(
            f"{name} has no partition column, so start/end cannot select its days; "
            "read it whole (no start or end) and filter the frame"
        )
    if partition not in info.columns:
        raise ConfigError(f"{name} has no column {partition!r} to select days by")
    column = exp.column(partition, quoted=True)
    if start is not None:
        select = select.where(column >= param("start_date"))
        params["start_date"] = start
    if end is not None:
        select = select.where(column <= param("end_date"))
        params["end_date"] = end
    return select, params

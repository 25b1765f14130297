"""Write-audit-publish: which change an audited build makes, and publishing the audited marts.

An audited build writes each mart to ``bnpl_audit.<mart>``; an incremental mart must start from
the published table (:meth:`bnpl.warehouse.base.Warehouse.prepare_audit`).
:func:`publish_models` then makes ``bnpl_marts.<mart>`` equal the audit copy
(:meth:`~bnpl.warehouse.base.Warehouse.publish_marts`). How is the adapter's business: BigQuery
copies whole tables by copy jobs; DuckDB copies only the recorded changes
(:mod:`bnpl.warehouse.audit`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from bnpl.errors import ModelError, WarehouseError
from bnpl.models.model import Model
from bnpl.warehouse.audit import Change
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)

__all__ = ["Change", "change_of", "publish_models"]


def change_of(model: Model, action: str, start: date | None, end: date | None) -> Change:
    """The change an audited build of ``model`` with ``action`` over ``start..end`` makes."""
    config = model.config
    if action == "replace_range" and config.partition_by:
        return Change(model.name, "range", config.partition_by, start=start, end=end)
    if action == "merge" and config.active_between:
        first, last = config.active_between
        return Change(model.name, "keys", config.unique_key[0], first, last, start, end)
    return Change(model.name, "full")


def publish_models(warehouse: Warehouse, marts: Sequence[str]) -> None:
    """Make each ``bnpl_marts.<name>`` equal ``bnpl_audit.<name>``.

    Raises:
        ModelError: publishing failed; on transactional adapters nothing was published.
    """
    if not marts:
        return
    try:
        with warehouse.session():
            warehouse.publish_marts(marts)
    except WarehouseError as exc:
        raise ModelError(f"publishing {', '.join(marts)} failed: {exc}") from exc
    logger.info("published %s", ", ".join(marts))

"""The SQL model runner: Jinja-templated BigQuery SQL in ``sql/``, built on DuckDB or BigQuery.

Writing a model
===============

A model is one file ``sql/{staging,intermediate,marts}/<name>.sql`` holding one BigQuery SELECT.
Jinja shapes structure only; values (the run's days, holidays, anything from a record) are bound
parameters. A template declares itself::

    {{ config(
        materialized='incremental',          # view | table | incremental
        partition_by='transaction_date',     # DATE column: the run's days are replaced
        cluster_by=['customer_key'],
        unique_key='transaction_key',
        description='What the model is for.',
        grain='one row per transaction',
    ) }}
    {{ column('transaction_key', 'STRING', 'hash(batch_id, transaction_id)', nullable=False) }}
    {{ column('risk_level', 'STRING', 'Risk band', tests=[{'accepted_values': ['low', 'high']}]) }}
    {{ columns_from('stg_bnpl_raw_transactions', exclude=['extra']) }}
    SELECT ... FROM {{ ref('stg_bnpl_raw_transactions') }} AS t
    WHERE t.transaction_date BETWEEN @start_date AND @end_date

A mart's ``nullable=False``, ``unique_key``, ``references`` and per-column ``tests=[...]``
(``'not_null'``, ``'unique'``, ``{'accepted_values': [...]}``, ``{'relationships': 'm.c'}``) are
its quality checks (:mod:`bnpl.models.checks`).

``ref('model')``, ``source('raw', 'table')``, ``this`` and ``calendar_holidays()`` are the only ways
to name a table. Every result column is declared (name, BigQuery type, description); a result that
differs from the declaration fails the build before anything is written.

Incremental models:

* with ``partition_by``: the model returns rows for the run's days (it may read earlier days for
  windows); the runner deletes those days and inserts the rows, in one transaction;
* without it (``unique_key`` plus optional ``active_between=['first_date', 'last_date']``): the
  model returns complete rows for every key the run's days may change, usually "keys active in
  the run's days, plus keys that ``{{ this }}`` says were active in them"; the runner replaces
  those keys' rows (see :mod:`bnpl.models.compile`).

A full refresh, and the first build of an incremental model, run the same SQL over every day in
the ledger, so incremental and full builds give the same tables.

Building
========

::

    project = load_project()
    result = build_models(warehouse, project, selection=["mart_bnpl_daily_volume+"],
                          start=date(2024, 3, 1), end=date(2024, 3, 1), audit=True)
    ...                                   # quality checks read bnpl_audit.<mart>
    publish_models(warehouse, result.marts)

or, with the quality gate between the two, :func:`bnpl.pipeline.write_audit_publish`. The BigQuery traps sqlglot does not handle
are listed in :mod:`bnpl.models.dialect`; :func:`transpile` applies the same handling to SQL outside
the runner.
"""

from __future__ import annotations

from bnpl.models.compile import CompiledModel, Relation
from bnpl.models.dialect import transpile
from bnpl.models.docs import DOCS_PATH, render_models_doc, write_models_doc
from bnpl.models.model import ColumnDoc, Model, ModelConfig, Project
from bnpl.models.plan import check_schema, plan_build
from bnpl.models.project import load_project
from bnpl.models.publish import publish_models
from bnpl.models.run import BuildResult, BuiltModel, build_models

__all__ = [
    "DOCS_PATH",
    "BuildResult",
    "BuiltModel",
    "ColumnDoc",
    "CompiledModel",
    "Model",
    "ModelConfig",
    "Project",
    "Relation",
    "build_models",
    "check_schema",
    "load_project",
    "plan_build",
    "publish_models",
    "render_models_doc",
    "transpile",
    "write_models_doc",
]

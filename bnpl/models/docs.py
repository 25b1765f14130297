"""``docs/models.md``: every model, its columns and the lineage, generated from the templates."""

from __future__ import annotations

from pathlib import Path

from bnpl.models.checks import declared_checks
from bnpl.models.model import LAYERS, SOURCES, Model, Project

DOCS_PATH = Path("docs") / "models.md"
"""Where ``bnpl docs models`` writes, relative to the working directory: in the repository, the
committed document (a test checks it is current)."""

_UPDATES = {
    "view": "a view, replaced on every build",
    "table": "rebuilt from every loaded day on every build",
    "replace_range": "incremental: the run's days are deleted and rebuilt",
    "merge": "incremental: rows of the keys the run's days touch are replaced",
}

ADD_A_MODEL = """\
## Add a model

1. **Write the SQL** in `sql/staging/`, `sql/intermediate/` or `sql/marts/` (or, for your own
   project, in `models/<layer>/` of the directory `BNPL_PROJECT__DIR` names; it may `ref()` the
   bundled models). One BigQuery `SELECT` per file, named after the file; its header declares it:

   ```sql
   {{ config(
       materialized='incremental',            -- view | table | incremental
       partition_by='transaction_date',       -- the run's days are replaced
       unique_key='transaction_key',
       description='What the model is for.',
       grain='one row per transaction',
   ) }}
   {{ column('transaction_key', 'STRING', 'The key', nullable=False) }}
   {{ column('customer_key', 'STRING', 'The customer', nullable=False,
             references='mart_bnpl_customers.customer_key') }}
   {{ column('risk_level', 'STRING', 'Risk band',
             tests=[{'accepted_values': ['low', 'medium', 'high', 'very_high']}]) }}
   {{ columns_from('int_bnpl_transactions_enriched', only=['amount_cents']) }}
   SELECT ... FROM {{ ref('int_bnpl_transactions_enriched') }} AS t
   WHERE t.transaction_date BETWEEN @start_date AND @end_date
   ```

   Every result column is declared (`column(...)`, or inherited with `columns_from(...)`); values
   are `@name` parameters, never pasted. The runner's rules: `bnpl/models/__init__.py`.
2. **Its checks come from the header** (marts only: they are checked in `bnpl_audit` before they
   are published). `unique_key` gives `<prefix>_key_unique`; the key and non-null `references`
   columns `<prefix>_key(s)_not_null`; other `nullable=False` columns `<prefix>_not_null`; each
   `references` `<prefix>_<column>_exists` (the prefix is the model's name without `bnpl_`).
   Per column, `tests=[...]` adds dbt's tests: `'not_null'`, `'unique'`,
   `{'accepted_values': [...]}`, `{'relationships': 'model.column'}`. Each mart's section below
   lists its checks; the full table is in `bnpl/models/checks.py`. A rule that is not a column
   test is a SQL assertion: bundled ones in `sql/assertions/` (declared in
   `bnpl/quality/checks.py`), yours in `checks/<name>.sql` of `BNPL_PROJECT__DIR`: a `SELECT` of
   the violating rows, optionally headed `{{ config(severity='warn', model='mart_x') }}`, run by
   `bnpl check` and the gate and stored in `bnpl_audit.dq_results` under the file's name.
3. **Regenerate this document**: `bnpl docs models` (a test fails while it is stale).
4. **Golden SQL**: `UPDATE_GOLDEN=1 .venv/bin/pytest tests/sql/test_golden.py` writes the exact
   DuckDB and BigQuery SQL the model runs to `tests/sql/golden/`; review the diff and commit it.
   `tests/sql/test_build.py` runs every model on DuckDB against fixture tables.
5. `bnpl build --select <name>+` builds it (and what reads it), checks and publishes.
"""
"""The how-to at the top of ``docs/models.md``."""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _node(name: str) -> str:
    return name.replace(".", "_")


def _lineage(project: Project) -> list[str]:
    lines = ["```mermaid", "flowchart LR"]
    sources = sorted({s for m in project.models.values() for s in m.sources})
    for source_name, table in sources:
        label = f"{SOURCES[source_name]}.{table}"
        lines.append(f"  {_node(source_name + '.' + table)}[({label})]")
    for model in project.models.values():
        lines.append(f"  {model.name}[{model.name}]")
    for model in project.models.values():
        for source_name, table in model.sources:
            lines.append(f"  {_node(source_name + '.' + table)} --> {model.name}")
        for ref in model.refs:
            lines.append(f"  {ref} --> {model.name}")
    lines.append("```")
    return lines


def _keys(model: Model) -> str:
    parts = []
    if model.config.unique_key:
        parts.append("unique " + ", ".join(f"`{k}`" for k in model.config.unique_key))
    for column in model.columns:
        if column.references:
            parts.append(f"`{column.name}` → `{column.references}`")
    return "; ".join(parts) or "none declared"


def _model_section(project: Project, model: Model) -> list[str]:
    config = model.config
    reads = [f"source `{SOURCES[s]}.{t}`" for s, t in model.sources]
    reads += [f"`{r}`" for r in model.refs]
    if model.uses_holidays:
        reads.append("`calendar_holidays()` (bound from `bnpl.calendar`)")
    if model.uses_this:
        reads.append("its own previous table (`this`)")
    read_by = [f"`{c}`" for c in project.children(model.name)]
    layout = []
    if config.partition_by and config.materialized == "view":
        layout.append(f"`{config.partition_by}` is the partition column of its source")
    elif config.partition_by:
        layout.append(f"partitioned by `{config.partition_by}`")
    if config.cluster_by:
        layout.append("clustered by " + ", ".join(f"`{c}`" for c in config.cluster_by))
    if config.lookback_days:
        layout.append(
            f"rows read the {config.lookback_days} days before them, so a build also replaces "
            f"the {config.lookback_days} days after its range (up to the last loaded day)"
        )
    if config.active_between:
        first, last = config.active_between
        layout.append(f"a row whose `{first}`..`{last}` overlaps the run's days is replaced too")
    lines = [
        f"### {model.name}",
        "",
        f"`{model.relpath}` · {config.materialized} in `{model.dataset}`",
        "",
        config.description,
        "",
        f"- **Grain:** {config.grain}",
        f"- **Keys:** {_keys(model)}",
        f"- **Updates:** {_UPDATES[config.strategy]}"
        + (f"; {', '.join(layout)}" if layout else ""),
        f"- **Reads:** {', '.join(reads) or 'nothing'}",
        f"- **Read by:** {', '.join(read_by) or 'nothing'}",
    ]
    if config.parameters:
        lines.append("- **Parameters:** " + ", ".join(f"`@{p}`" for p in config.parameters))
    checks = declared_checks(model)
    if checks:
        lines.append("- **Checks:** " + "; ".join(f"`{c.name}` ({c.description})" for c in checks))
    lines += ["", "| column | type | nullable | description |", "|---|---|---|---|"]
    for column in model.columns:
        description = column.description
        if column.references:
            description += f" (references `{column.references}`)"
        nullable = "yes" if column.nullable else "no"
        lines.append(f"| `{column.name}` | {column.type} | {nullable} | {_cell(description)} |")
    lines.append("")
    return lines


def _by_layer(project: Project) -> list[Model]:
    """Staging, intermediate, marts; dependency order inside each."""
    return [m for layer in LAYERS for m in project.models.values() if m.layer == layer]


def render_models_doc(project: Project) -> str:
    """The Markdown of ``docs/models.md`` for ``project``."""
    lines = [
        "# Models",
        "",
        "Generated from the templates in `sql/` by `bnpl docs models`; do not edit by hand.",
        "How the runner builds them: `bnpl/models/__init__.py`.",
        "",
        ADD_A_MODEL,
        "## Lineage",
        "",
        *_lineage(project),
        "",
        "## Index",
        "",
        "| model | layer | materialized | built in | grain |",
        "|---|---|---|---|---|",
    ]
    for model in _by_layer(project):
        lines.append(
            f"| [`{model.name}`](#{model.name}) | {model.layer} | {model.config.materialized} | "
            f"`{model.dataset}` | {_cell(model.config.grain)} |"
        )
    lines.append("")
    for layer in LAYERS:
        members = [m for m in project.models.values() if m.layer == layer]
        if not members:
            continue
        lines += [f"## {layer.capitalize()}", ""]
        for model in members:
            lines += _model_section(project, model)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_models_doc(project: Project, path: Path = DOCS_PATH) -> bool:
    """Write the document; True when the file changed."""
    text = render_models_doc(project)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True

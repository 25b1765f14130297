"""``docs/models.md``: every model, its columns and the lineage, generated from the templates."""

from __future__ import annotations

from pathlib import Path

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

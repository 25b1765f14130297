"""docs/models.md is generated from the templates and committed up to date."""

from __future__ import annotations

from pathlib import Path

from bnpl.models import DOCS_PATH, Project, render_models_doc

ROOT = Path(__file__).resolve().parents[2]


def test_committed_models_doc_is_current(project: Project) -> None:
    """docs/models.md equals what `bnpl docs models` generates (regenerate it when this fails)."""
    assert (ROOT / DOCS_PATH).read_text() == render_models_doc(project), (
        "docs/models.md is stale: run `bnpl docs models`"
    )


def test_doc_lists_models_columns_and_lineage(project: Project) -> None:
    """Every model has a section with each of its columns, and every ref is a lineage edge."""
    text = render_models_doc(project)
    for model in project.models.values():
        assert f"### {model.name}\n" in text
        section = text.split(f"### {model.name}\n", 1)[1].split("\n### ", 1)[0]
        for column in model.columns:
            assert f"| `{column.name}` | {column.type} |" in section, (model.name, column.name)
        for ref in model.refs:
            assert f"  {ref} --> {model.name}\n" in text
        for source, table in model.sources:
            assert f"  {source}_{table} --> {model.name}\n" in text

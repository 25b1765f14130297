"""``python -m bnpl.models docs [--check]``: regenerate (or check) ``docs/models.md``."""

from __future__ import annotations

import sys

from bnpl.models.docs import DOCS_PATH, render_models_doc, write_models_doc
from bnpl.models.project import load_project


def main(argv: list[str]) -> int:
    """Exit 0 when the document is (now) current; with ``--check``, 1 when it is stale."""
    if not argv or argv[0] != "docs":
        sys.stderr.write("usage: python -m bnpl.models docs [--check]\n")
        return 2
    project = load_project()
    if "--check" in argv[1:]:
        current = DOCS_PATH.exists() and DOCS_PATH.read_text() == render_models_doc(project)
        if not current:
            sys.stderr.write(f"{DOCS_PATH} is stale; run: python -m bnpl.models docs\n")
        return 0 if current else 1
    write_models_doc(project)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

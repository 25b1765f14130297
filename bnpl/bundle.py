"""What the package ships besides code, found with :mod:`importlib.resources`: the SQL project
and the declared table schemas.

The repository keeps ``sql/`` and ``schemas/`` at its top level; the build maps them into the
package as ``bnpl._sql`` and ``bnpl._schemas`` (``setup.py``). The same names resolve in an
editable install (to the repository's folders) and in an installed wheel (to the copies inside
``site-packages``), so nothing here depends on the working directory or on a checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_dir(package: str) -> Path:
    """The directory of the data package ``package`` (``bnpl._sql``, ``bnpl._schemas``, ...).

    Raises:
        RuntimeError: the package is not a directory on disk (bnpl is installed unzipped, as pip
            installs every wheel).
    """
    root = resources.files(package)
    if not isinstance(root, Path) or not root.is_dir():
        raise RuntimeError(f"{package} is not a directory on disk ({root}); reinstall bnpl")
    return root


SQL_DIR = bundled_dir("bnpl._sql")
"""The bundled SQL: models (``staging/``, ``intermediate/``, ``marts/``), assertions and the
warehouse adapters' own statements (``warehouse/``); the repository's ``sql/``."""

SCHEMAS_DIR = bundled_dir("bnpl._schemas")
"""The declared tables, ``<dataset>/<table>.json``; the repository's ``schemas/``."""

"""The package layout, which ``pyproject.toml`` cannot declare: the repository keeps ``sql/``,
``schemas/`` and ``deployments/`` at its top level, and the build maps them into the package as
``bnpl._sql``, ``bnpl._schemas`` and ``bnpl_flows._deployments``. Each folder's ``__init__.py``
makes it a package that ``importlib.resources`` finds, in a wheel and in an editable install alike
(``bnpl/bundle.py``). The top-level ``prefect.yaml`` (the deployments ``bnpl prefect setup``
registers) is copied into the wheel as ``bnpl_flows/_deployments/prefect.yaml``; an editable
install reads the checkout's. Everything else is declared in ``pyproject.toml``; the reasons are in
``docs/decisions.md`` (the wheel carries what bnpl reads at run time)."""

from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

BUNDLED = {
    "bnpl._sql": ("sql", ["*.sql"]),
    "bnpl._schemas": ("schemas", ["*.json"]),
    "bnpl_flows._deployments": ("deployments", ["*.json", "*.yaml"]),
}
"""Package name -> (repository folder mapped into it, the files it ships)."""

_CACHES = ["__pycache__", "*.__pycache__"]

# every subfolder is a package too (setuptools ships a folder's files only as a package's data)
data = {
    name: patterns
    for package, (folder, patterns) in BUNDLED.items()
    for name in [
        package,
        *(f"{package}.{sub}" for sub in find_namespace_packages(where=folder, exclude=_CACHES)),
    ]
}

PREFECT_FILE = ("prefect.yaml", "bnpl_flows/_deployments/prefect.yaml")
"""The repository's deployments file -> where the built package carries it."""


class BuildWithPrefectFile(build_py):
    """``build_py`` that also copies :data:`PREFECT_FILE` into the built package (package data
    cannot name a file outside the package's folder)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            source, target = PREFECT_FILE
            self.copy_file(source, str(Path(self.build_lib) / target))


setup(
    cmdclass={"build_py": BuildWithPrefectFile},
    packages=[*find_packages(include=["bnpl", "bnpl.*", "bnpl_flows", "bnpl_flows.*"]), *data],
    package_dir={package: folder for package, (folder, _) in BUNDLED.items()},
    package_data={"bnpl": ["py.typed"], **data},
    include_package_data=False,
)

"""The package layout, which ``pyproject.toml`` cannot declare: the repository keeps ``sql/``,
``schemas/`` and ``deployments/`` at its top level, and the build maps them into the package as
``bnpl._sql``, ``bnpl._schemas`` and ``bnpl_flows._deployments``. Each folder's ``__init__.py``
makes it a package that ``importlib.resources`` finds, in a wheel and in an editable install alike
(``bnpl/bundle.py``). Everything else is declared in ``pyproject.toml``; the reasons are in
``docs/decisions.md`` (the wheel carries what bnpl reads at run time)."""

from setuptools import find_namespace_packages, find_packages, setup

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

setup(
    packages=[*find_packages(include=["bnpl", "bnpl.*", "bnpl_flows", "bnpl_flows.*"]), *data],
    package_dir={package: folder for package, (folder, _) in BUNDLED.items()},
    package_data={"bnpl": ["py.typed"], **data},
    include_package_data=False,
)

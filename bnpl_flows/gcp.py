"""Google credentials from a prefect-gcp ``GcpCredentials`` block, for the BigQuery warehouse.

``bnpl/`` never imports prefect, so it cannot load blocks itself. With
``BNPL_WAREHOUSE__CREDENTIALS_BLOCK=<name>``, the BigQuery adapter asks the loader registered by
:func:`register_gcp_credentials_loader` (called when the ``flows`` package is imported) to turn the
block name into credentials. The block's key is never logged.
"""

from __future__ import annotations

from google.auth.credentials import Credentials

from bnpl.warehouse.bigquery import set_credentials_block_loader


def load_gcp_credentials(block_name: str) -> Credentials:
    """The credentials held by the ``GcpCredentials`` block ``block_name`` (its service-account
    key, or application-default credentials when the block has none)."""
    from prefect_gcp import GcpCredentials

    block = GcpCredentials.load(block_name)
    credentials: Credentials = block.get_credentials_from_service_account()
    return credentials


def register_gcp_credentials_loader() -> None:
    """Make ``BNPL_WAREHOUSE__CREDENTIALS_BLOCK`` resolve through prefect-gcp in this process."""
    set_credentials_block_loader(load_gcp_credentials)

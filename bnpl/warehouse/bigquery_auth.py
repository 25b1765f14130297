"""Google credentials for the BigQuery adapter, from settings, without ever logging them.

First match wins: credentials passed in by the caller; ``credentials_json`` (a service-account key);
``credentials_block``, turned into credentials by a block loader; anonymous when ``api_endpoint``
is a loopback address (the local emulator); application-default credentials.

bnpl/ never imports prefect, so it cannot load a prefect-gcp ``GcpCredentials`` block itself: the
loader is injected (``BigQueryWarehouse(..., credentials_block_loader=...)``) or registered for the
process with :func:`set_credentials_block_loader`, which ``bnpl_flows/gcp.py`` does when the ``flows``
package is imported. Error messages name the setting and the exception type, never its text
(which could quote key material).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

import google.auth
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError
from google.oauth2 import service_account

from bnpl.errors import ConfigError
from bnpl.settings import BigQuerySettings

CredentialsLoader = Callable[[str], Credentials]
"""Turns a credentials block name into Google credentials (e.g. a prefect-gcp ``GcpCredentials``)."""

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_registered: CredentialsLoader | None = None


def set_credentials_block_loader(loader: CredentialsLoader | None) -> None:
    """Register how ``credentials_block`` names become credentials, for every adapter in the process.

    ``bnpl_flows/`` registers the prefect-gcp loader; a notebook can register its own. None unregisters.
    """
    global _registered
    _registered = loader


def resolve_credentials(
    settings: BigQuerySettings,
    *,
    credentials: Credentials | None = None,
    block_loader: CredentialsLoader | None = None,
) -> Credentials:
    """The credentials the client should use (see the module docstring for the order).

    Raises:
        ConfigError: the configured source is unusable or there is none; the message says which
            setting to fix and never quotes a key.
    """
    if credentials is not None:
        return credentials
    if settings.credentials_json is not None:
        try:
            info = json.loads(settings.credentials_json.get_secret_value())
            found: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=SCOPES
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(
                "BNPL_WAREHOUSE__CREDENTIALS_JSON is not a usable service-account key "
                f"({type(exc).__name__}); paste the whole key JSON or use "
                "BNPL_WAREHOUSE__CREDENTIALS_BLOCK or application-default credentials"
            ) from None
        return found
    if settings.credentials_block is not None:
        loader = block_loader or _registered
        if loader is None:
            raise ConfigError(
                f"BNPL_WAREHOUSE__CREDENTIALS_BLOCK={settings.credentials_block!r} needs a block "
                "loader: run through the Prefect flows (importing flows registers prefect-gcp's), "
                "or call bnpl.warehouse.bigquery.set_credentials_block_loader(...) first"
            )
        try:
            return loader(settings.credentials_block)
        except Exception as exc:  # any failure of a third-party loader; its text may quote the key
            raise ConfigError(
                f"cannot load credentials block {settings.credentials_block!r} "
                f"({type(exc).__name__}); check that the block exists and holds a valid key"
            ) from None
    if settings.api_endpoint and urlsplit(settings.api_endpoint).hostname in _LOOPBACK:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    try:
        default, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError:
        raise ConfigError(
            "no Google credentials found: run `gcloud auth application-default login`, or set "
            "BNPL_WAREHOUSE__CREDENTIALS_BLOCK (a prefect-gcp GcpCredentials block) or "
            "BNPL_WAREHOUSE__CREDENTIALS_JSON"
        ) from None
    return default

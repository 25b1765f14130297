"""Prefect flows: wiring around the plain functions in :mod:`bnpl`."""

from flows.gcp import register_gcp_credentials_loader

register_gcp_credentials_loader()  # BNPL_WAREHOUSE__CREDENTIALS_BLOCK resolves via prefect-gcp

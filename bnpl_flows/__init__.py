"""Prefect flows: wiring around the plain functions in :mod:`bnpl`."""

from bnpl.telemetry import quiet_prefect_telemetry

quiet_prefect_telemetry()  # before Prefect is imported: no telemetry from a temporary API

from bnpl_flows.gcp import register_gcp_credentials_loader  # noqa: E402  (after the defaults above)

register_gcp_credentials_loader()  # BNPL_WAREHOUSE__CREDENTIALS_BLOCK resolves via prefect-gcp

"""Prefect flows: wiring around the plain functions in :mod:`bnpl`."""

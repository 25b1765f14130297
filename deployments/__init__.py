"""Prefect work-pool templates and automations, installed as ``bnpl_flows._deployments``."""

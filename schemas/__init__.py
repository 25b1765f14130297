"""The declared table schemas, installed as ``bnpl._schemas``."""

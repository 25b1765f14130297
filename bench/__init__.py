"""Benchmarks. ``make bench`` runs every ``bench/bench_*.py`` and appends to ``bench/results.md``."""

# One task runner. Every target creates .venv on first use; nothing needs installing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PREFECT_HOME ?= $(CURDIR)/.bnpl/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_API_ENABLE_HTTP2 ?= false

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ml,live]'
	touch $(STAMP)

## demo: ingest all of 2024 into the embedded DuckDB warehouse, then build, check and publish the models
demo: $(STAMP)
	$(BIN)/bnpl backfill --start 2024-01-01 --end 2024-12-31
	$(BIN)/bnpl build

## test: lint, type-check and the whole test suite (what CI runs)
test: $(STAMP) lint typecheck
	mkdir -p "$(PREFECT_HOME)"  # two test workers importing Prefect at once race to create it
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not slow"

## bench: the benchmarks in bench/, results appended to bench/results.md
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .bnpl .pytest_cache .mypy_cache .ruff_cache

# One task runner. Every target creates .venv on first use; nothing needs installing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PREFECT_HOME ?= $(CURDIR)/.bnpl/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_API_ENABLE_HTTP2 ?= false

.PHONY: demo test lint typecheck unit bench clean redis-server

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
test: $(STAMP) redis-server lint typecheck
	mkdir -p "$(PREFECT_HOME)"  # two test workers importing Prefect at once race to create it
	$(BIN)/pytest

## redis-server: the OS package the Redis event log tests start (installed only when missing)
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "redis-server is not on PATH: installing the OS package (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  { $$SUDO apt-get install -y --no-install-recommends redis-server \
	    || { $$SUDO apt-get update -q && $$SUDO apt-get install -y --no-install-recommends redis-server; }; } \
	  && command -v redis-server >/dev/null 2>&1 \
	  || { echo "cannot install redis-server: install it as root (apt-get install redis-server, or your OS's package) and put it on PATH" >&2; exit 1; }; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) redis-server
	$(BIN)/pytest -m "not slow"

## bench: the benchmarks in bench/, results appended to bench/results.md
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .bnpl .pytest_cache .mypy_cache .ruff_cache

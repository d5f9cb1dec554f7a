# The two commands of the README:
#   make run   — set up and start the daemon (paper trading, embedded PostgreSQL, no config)
#   make test  — install the test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test install install-dev lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/forexbot run $(ARGS)

lint: install-dev
	$(BIN)/ruff check forexbot tests bench
	$(BIN)/ruff format --check forexbot tests bench

typecheck: install-dev
	$(BIN)/mypy forexbot

test: install-dev lint typecheck
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/bus_latency.py
	$(BIN)/python bench/ticks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

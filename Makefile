# The two commands of the README:
#   make run   — set up and start the daemon (paper trading, embedded PostgreSQL, no config)
#   make test  — install the test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test test-days install install-dev system-deps lint typecheck mobile-check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

# Headless Chromium renders the backtest report and drives the phone app in tests; Node runs
# the app's own checks, npm installs their type checker and linter (Debian's packages; root or
# sudo).
system-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v node >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nodejs >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq npm >/dev/null; }

run: install
	$(BIN)/forexbot run $(ARGS)

lint: install-dev
	$(BIN)/ruff check forexbot tests bench
	$(BIN)/ruff format --check forexbot tests bench

typecheck: install-dev
	$(BIN)/mypy forexbot

# The phone app's type check (TypeScript over its JSDoc) and lint (ESLint): tools pinned in
# mobile/package-lock.json, installed from the npm registry into mobile/node_modules (again
# when the lock file is newer), never served to the phone.
MOBILE_TOOLS := mobile/node_modules/.installed

$(MOBILE_TOOLS): mobile/package-lock.json | system-deps
	npm ci --no-audit --no-fund --prefix mobile
	@touch $@

mobile-check: system-deps $(MOBILE_TOOLS)
	mobile/node_modules/.bin/tsc -p mobile
	mobile/node_modules/.bin/tsc -p mobile/tsconfig.sw.json
	mobile/node_modules/.bin/tsc -p mobile/tsconfig.tests.json
	cd mobile && node_modules/.bin/eslint .

test: install-dev system-deps lint typecheck mobile-check
	$(BIN)/pytest -q --durations=20

# The suite on other days of the week (Debian's faketime): it must pass whatever the day.
test-days: install-dev system-deps
	@command -v faketime >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq faketime >/dev/null; }
	scripts/test_on_days.sh $(ARGS)

bench: install-dev
	$(BIN)/python bench/bus_latency.py
	$(BIN)/python bench/ticks.py
	$(BIN)/python bench/backtest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mobile/node_modules

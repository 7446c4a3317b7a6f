# The documented interface: `make run` starts everything, `make test` checks everything.
# Only Python 3.11+ and make are assumed; everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit e2e bench browser clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/wedsync run

lint: $(STAMP)
	$(BIN)/ruff check core webapp jobs tests e2e bench scripts
	$(BIN)/ruff format --check core webapp jobs tests e2e bench scripts
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

browser:
	@$(PYTHON) scripts/ensure_chromium.py

test: $(STAMP) browser lint typecheck
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

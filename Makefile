# ebank — the two commands: `make run` (the bank) and `make test` (the checks).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EBANK_PORT ?= 8000

.PHONY: install run test lint typecheck unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/ebank db upgrade
	$(BIN)/ebank demo
	EBANK_SIMULATE_COUNTERPARTY=$${EBANK_SIMULATE_COUNTERPARTY:-true} $(BIN)/ebank serve --port $(EBANK_PORT)

lint: install
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

# Every benchmark in bench/, each on the backends it measures; each prints one JSON line last.
# PostgreSQL comes from EBANK_DATABASE_URL (default: the local `test` database).
bench: install
	$(BIN)/python bench/ledger.py --backend sqlite
	$(BIN)/python bench/ledger.py --backend postgres
	$(BIN)/python bench/payments.py
	$(BIN)/python bench/risk.py
	$(BIN)/python bench/aml.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
POLICY := policies/connect-ib.yaml
export OPENDPO_DATABASE_URL ?= sqlite:///var/opendpo.db

.PHONY: demo test lint typecheck pytest lock docs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OpenDPO needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs exactly what the lock files pin (hash-checked), then OpenDPO itself.
$(VENV)/.runtime: requirements/lock.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.dev: requirements/dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	@touch $@

demo: $(VENV)/.runtime
	OPENDPO_DEMO=1 $(BIN)/opendpo db upgrade
	OPENDPO_DEMO=1 $(BIN)/opendpo keys init --if-missing
	OPENDPO_DEMO=1 $(BIN)/opendpo users add dpo --role dpo --name "Data Protection Officer" --if-missing
	OPENDPO_DEMO=1 $(BIN)/opendpo policy apply $(POLICY) --by demo
	OPENDPO_DEMO=1 $(BIN)/opendpo demo estate
	OPENDPO_DEMO=1 $(BIN)/opendpo serve

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

typecheck: $(VENV)/.dev
	$(BIN)/mypy src

# One test process per core (pytest-xdist): each has its own throwaway databases.
pytest: $(VENV)/.dev
	$(BIN)/pytest -n auto

test: lint typecheck pytest

# Regenerate the lock files after changing dependencies in pyproject.toml.
lock: $(VENV)/.dev
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --no-header -q -o requirements/lock.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes --no-header -q -o requirements/dev.txt

# Rewrite docs/cli.md from the commands' own --help (a test checks it is current).
docs: $(VENV)/.runtime
	$(BIN)/python scripts/cli_reference.py > docs/cli.md

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

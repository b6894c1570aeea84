# plantwatch: `make up` starts everything, `make test` runs every check. Only Python ≥ 3.11 and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint pytest install clean help

help:
	@echo "make up      install (first time) and start everything: database, broker, simulator, ingest, scheduler, API, dashboard"
	@echo "make test    install (first time) and run every check: ruff, import-linter, mypy, pytest"
	@echo "make lint    ruff, import-linter and mypy only"
	@echo "make clean   remove the virtualenv and var/ (embedded database, broker data, logs)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "plantwatch needs Python >= 3.11; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	@$(BIN)/plantwatch up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint pytest

clean:
	rm -rf $(VENV) var

# Comptoir: `make run` serves the demo shop; `make test` runs the whole suite against real services.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := shop
# `make test` runs the suite on this many pytest-xdist workers, each with its own services
# (PostgreSQL, Redis, SMTP, localstripe, live server, browser); TEST_WORKERS=0 runs it in one
# process. Whole files go to one worker (--dist loadfile): module fixtures stay built once.
TEST_WORKERS ?= 3

.PHONY: run test install system-deps system-deps-test translations compile-translations lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

system-deps:
	@scripts/system-deps.sh run

system-deps-test:
	@scripts/system-deps.sh test

compile-translations: install
	$(BIN)/pybabel compile -d translations

## extract, update and compile the gettext catalogues
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output --project Comptoir --version 0.1 --msgid-bugs-address "https://comptoir.invalid/issues" --copyright-holder "Comptoir contributors" .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d translations

run: system-deps install compile-translations
	$(BIN)/flask db upgrade
	$(BIN)/flask shop seed-demo --if-empty
	$(BIN)/flask shop serve --host 127.0.0.1 --port 5000

test: system-deps-test install compile-translations
	$(BIN)/ruff check shop tests worker.py
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check shop tests worker.py bench
	$(BIN)/ruff format --check shop tests worker.py bench
	$(BIN)/lint-imports

bench: system-deps-test install compile-translations
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

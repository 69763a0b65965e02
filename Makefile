# The two commands of the README:
#   make run    install, initialise the embedded defaults and start the monitor (Airflow UI)
#   make test   install what the tests need, start what they need, run the whole suite
# Everything installs into .venv from pyproject.toml, pinned by requirements/lock.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: run stop test lint install bench clean help
.DEFAULT_GOAL := help

help:
	@echo "make run     install, initialise and start the monitor (Ctrl-C stops it)"
	@echo "make stop    stop a monitor started in the background (make run ARGS=--background)"
	@echo "make test    install test tools and run the whole test suite"
	@echo "make lint    ruff"
	@echo "make bench   run the benchmarks in bench/ (prints figures)"

$(STAMP): pyproject.toml requirements/lock.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' \
		|| { echo "Set PYTHON=python3.11 (or newer): make run PYTHON=python3.12"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (pinned by requirements/lock.txt) ..."
	@$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	@$(BIN)/uv pip install -q --python $(BIN)/python -c requirements/lock.txt -e '.[test,prod]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/monitor up $(ARGS)

stop: $(STAMP)
	$(BIN)/monitor down

lint: $(STAMP)
	$(BIN)/ruff check monitor dags tests bench

test: $(STAMP)
	@bash scripts/test-prereqs.sh
	$(BIN)/ruff check monitor dags tests bench
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

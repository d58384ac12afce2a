# certwatch developer commands. Every target builds or refreshes .venv first.
SHELL := /bin/sh
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
PIP := $(PYTHON) -m pip --disable-pip-version-check --quiet

.PHONY: help venv test lint format typecheck unit run demo bench bench-sweep clean

help:
	@echo "make run        start the local stack: API, sweep, checker, events (no AWS account needed)"
	@echo "make demo       check a zoo of loopback TLS endpoints with certwatch check"
	@echo "make test       lint, type-check and run the tests"
	@echo "make bench      measure the checking engine (checks/s, CPU ms per check, memory)"
	@echo "make bench-sweep  measure a sweep over 100,000 targets on moto (requests, seconds)"
	@echo "make format     format the code with ruff"
	@echo "make clean      remove .venv and caches"

venv: $(STAMP)

# Rebuilt when the requirements change or when .venv was made by another Python than the one
# scripts/find-python picks (python3.13 where present, else python3.12).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml scripts/find-python
	@py=$$(scripts/find-python) || exit 1; \
	want=$$($$py -c 'import sys; print(sys.version_info[:2])'); \
	have=$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])' 2>/dev/null || true); \
	if [ "$$want" != "$$have" ]; then echo "creating $(VENV) with $$py"; $$py -m venv --clear $(VENV); fi
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps -e .
	@touch $@

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

run: $(STAMP)
	$(PYTHON) -m lab.local

demo: $(STAMP)
	$(PYTHON) -m lab.demo

bench: $(STAMP)
	$(PYTHON) -m bench.engine $(BENCH_ARGS)

bench-sweep: $(STAMP)
	$(PYTHON) -m bench.sweep $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

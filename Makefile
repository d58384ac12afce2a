# certwatch developer commands. Every target builds or refreshes .venv first.
SHELL := /bin/sh
# PYTHON_VERSION=3.12 (or 3.13) builds and uses .venv-3.12 with exactly that Python; unset, .venv
# is built with python3.13 where present, else python3.12.
PYTHON_VERSION ?=
VENV ?= $(if $(PYTHON_VERSION),.venv-$(PYTHON_VERSION),.venv)
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
PIP := $(PYTHON) -m pip --disable-pip-version-check --quiet

.PHONY: help venv test test-all test-bare lint format typecheck unit run demo fuzz bench bench-sweep bench-local bench-batch clean deploy destroy package wheelhouse lint-infra policies
STAGE ?= dev
BUILD := build
WHEELHOUSE := $(BUILD)/wheelhouse
# One stamp per venv: the wheels of each venv's Python (cffi is built per version) share the folder.
WHEELHOUSE_DONE := $(WHEELHOUSE)/.done-$(notdir $(VENV))
# chalice package probes for credentials and the instance metadata service: keep it offline.
PACKAGE_ENV := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-packaging} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-packaging} \
	PIP_NO_INDEX=1 PIP_FIND_LINKS=$(CURDIR)/$(WHEELHOUSE)

help:
	@echo "make run        start the local stack: API, sweep, checker, events (no AWS account needed)"
	@echo "make demo       check a zoo of loopback TLS endpoints with certwatch check"
	@echo "make test       lint, type-check and run every test (PYTHON_VERSION=3.12 to use that Python)"
	@echo "make unit       the fast unit tests only (tests/unit)"
	@echo "make test-all   make test under Python 3.13, then under 3.12"
	@echo "make test-bare  make test in a fresh clone of HEAD with nothing beside it (a newcomer's first run)"
	@echo "make fuzz       schemathesis against the local stack's API, every check (minutes; not in make test)"
	@echo "make bench      measure the checking engine (checks/s, CPU ms per check, memory), the whole process, the legacy probe"
	@echo "make bench-sweep  measure a sweep over 100,000 targets on moto (requests, write and read units, seconds)"
	@echo "make bench-local  import 1,000 targets into the local stack and wait until each is checked"
	@echo "make bench-batch  the checker's handler over SQS batches of far endpoints with a few tarpits"
	@echo "make format     format the code with ruff"
	@echo "make deploy STAGE=prod    data stack, outputs recorded, chalice deploy, event source settings"
	@echo "make destroy STAGE=dev    remove the app (DATA=1 also removes the data stack)"
	@echo "make package STAGE=prod   SAM and Terraform output in build/STAGE (from a wheelhouse)"
	@echo "make lint-infra           cfn-lint the data stack and the packaged app"
	@echo "make clean      remove .venv and caches"

venv: $(STAMP)

# Rebuilt when the requirements change or when the venv was made by another Python than the one
# scripts/find-python picks (PYTHON_VERSION, or python3.13 where present, else python3.12).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml scripts/find-python
	@py=$$(scripts/find-python $(PYTHON_VERSION)) || exit 1; \
	want=$$($$py -c 'import sys; print(sys.version_info[:2])'); \
	have=$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])' 2>/dev/null || true); \
	if [ "$$want" != "$$have" ]; then echo "creating $(VENV) with $$py"; $$py -m venv --clear $(VENV); fi
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps -e .
	@touch $@

# Everything: lint, types, and every test (unit, functional, e2e, conformance), spread over
# TEST_WORKERS processes (default: one per core), each test file whole in one of them.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# Both supported Pythons, each in its own venv; a missing one fails here, in one line, before
# anything runs.
test-all:
	@scripts/find-python 3.13 >/dev/null && scripts/find-python 3.12 >/dev/null
	$(MAKE) test PYTHON_VERSION=3.13 VENV=.venv-3.13
	$(MAKE) test PYTHON_VERSION=3.12 VENV=.venv-3.12

# A newcomer's first `make test`: a fresh clone of HEAD in an empty folder, its own .venv, no
# ../shared and no CI variable beside it (scripts/bare-clone-test). Commit first: it clones HEAD.
test-bare:
	scripts/bare-clone-test $(PYTHON_VERSION)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Checked against the venv's own Python: typeshed's stubs differ between 3.12 and 3.13.
typecheck: $(STAMP)
	$(BIN)/mypy --python-version $$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The fast tests only: pure logic, no network, no moto (a few seconds).
unit: $(STAMP)
	$(BIN)/pytest tests/unit

run: $(STAMP)
	$(PYTHON) -m lab.local

demo: $(STAMP)
	$(PYTHON) -m lab.demo

fuzz: $(STAMP)
	$(PYTHON) -m lab.fuzz $(FUZZ_ARGS)

# The engine alone, then whole processes side by side: certwatch check --json, blackbox_exporter
# (installed with apt-get when missing and run as root; its row is skipped otherwise), openssl s_time;
# then what the legacy protocol probe (TLS 1.0 or 1.1 offered alone) costs per address.
bench: $(STAMP)
	$(PYTHON) -m bench.engine $(BENCH_ARGS)
	$(PYTHON) -m bench.whole --install $(WHOLE_ARGS)
	$(PYTHON) -m bench.legacy $(LEGACY_ARGS)

bench-sweep: $(STAMP)
	$(PYTHON) -m bench.sweep $(BENCH_ARGS)

bench-batch: $(STAMP)
	$(PYTHON) -m bench.batch $(BATCH_ARGS)

bench-local: $(STAMP)
	$(PYTHON) -m bench.local $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.12 .venv-3.13 $(BUILD) .pytest_cache .mypy_cache .ruff_cache *.egg-info .chalice/deployments

deploy: $(STAMP)
	$(PYTHON) infra/deploy.py deploy --stage $(STAGE)

destroy: $(STAMP)
	$(PYTHON) infra/deploy.py destroy --stage $(STAGE) $(if $(DATA),--data)

# The Lambda runtime's wheels (manylinux, the venv's Python), downloaded once: packaging then
# needs no index, so the same inputs give the same package.
$(WHEELHOUSE_DONE): requirements.txt $(STAMP)
	@mkdir -p $(WHEELHOUSE)
	$(PIP) download --dest $(WHEELHOUSE) --only-binary=:all: --platform manylinux2014_x86_64 \
		--implementation cp --python-version $$($(PYTHON) -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")') \
		-r requirements.txt
	@touch $@

wheelhouse: $(WHEELHOUSE_DONE)

package: $(WHEELHOUSE_DONE)
	rm -rf $(BUILD)/$(STAGE)
	$(PACKAGE_ENV) $(PYTHON) infra/deploy.py package --stage $(STAGE) --out $(BUILD)/$(STAGE)/sam
	$(PACKAGE_ENV) $(PYTHON) infra/deploy.py package --stage $(STAGE) --out $(BUILD)/$(STAGE)/terraform --terraform

lint-infra: package
	$(BIN)/cfn-lint infra/template.yaml $(BUILD)/$(STAGE)/sam/sam.json

policies: $(STAMP)
	$(PYTHON) infra/policy.py

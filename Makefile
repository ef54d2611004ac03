# Every target sets itself up from nothing: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
LOCK_VENV := .venv-lock
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
# pip's "Location ... is ignored" warnings about index folders some machines lack are noise.
# With pipefail a failed pip fails the recipe; a grep that filtered every line does not.
NOISE := { grep --line-buffered -v 'is ignored' || true; }
PIP_VERSION ?= 26.3
UV_VERSION ?= 0.13.8
SAM_CLI_VERSION ?= 1.170.0
CFN_LINT_VERSION ?= 1.58.0
CHECKOV_VERSION ?= 3.3.30
export SAM_CLI_TELEMETRY := 0
SHELL := bash
.SHELLFLAGS := -o pipefail -c

.DEFAULT_GOAL := help
.PHONY: help deps lock sam-deps checkov-deps checkov run invoke test lint format typecheck validate pytest pytest-suites pytest-soak unit integration e2e openapi bench events clean

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The dependencies come from requirements.lock (exact versions and their hashes; `make lock`), the
# project itself is installed editable on top without touching them.
$(VENV)/.installed: pyproject.toml requirements.lock
	@echo '==> [1/4] $(VENV): a Python 3.11 virtualenv (the first time takes a minute or two)'
	$(PYTHON) -m venv $(VENV)
	@echo '==> [2/4] pip $(PIP_VERSION)'
	$(VENV)/bin/pip install $(PIP_QUIET) 'pip==$(PIP_VERSION)' 2>&1 | $(NOISE)
	@echo '==> [3/4] the app and dev dependencies from requirements.lock (hashes checked)'
	$(VENV)/bin/pip install --disable-pip-version-check --no-input --require-hashes --no-deps \
		-r requirements.lock 2>&1 | $(NOISE)
	@echo '==> [4/4] this checkout (editable) and an import check'
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e . 2>&1 | $(NOISE)
	$(PY) -c 'import order_hub, functions, local_stack, moto, schemathesis'
	$(VENV)/bin/pip check
	touch $@
	@echo '==> $(VENV) is ready'

$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install $(PIP_QUIET) 'uv==$(UV_VERSION)' 2>&1 | $(NOISE)
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_QUIET) 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)' 2>&1 | $(NOISE)
	$(SAM_VENV)/bin/sam --version
	touch $@

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_QUIET) 'checkov==$(CHECKOV_VERSION)' 2>&1 | $(NOISE)
	$(CHECKOV_VENV)/bin/checkov --version
	touch $@

deps: $(VENV)/.installed ## create .venv: the locked app and dev dependencies (requirements.lock), this checkout editable

# Keeps today's pins where pyproject.toml still allows them; UPGRADE=1 moves each to its newest
# release. The layer's lock takes the same versions (-c requirements.lock), for arm64 Lambda.
lock: $(LOCK_VENV)/.installed ## regenerate requirements.lock and layers/shared/requirements.lock (UPGRADE=1 for the newest releases)
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal \
		--generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) -o requirements.lock
	$(LOCK_VENV)/bin/uv pip compile layers/shared/requirements.txt --python-version 3.11 \
		--python-platform aarch64-manylinux2014 --generate-hashes --custom-compile-command 'make lock' \
		-c requirements.lock -o layers/shared/requirements.lock

sam-deps: $(SAM_VENV)/.installed ## create .venv-sam with aws-sam-cli and cfn-lint (their pins clash with ours)

run: deps ## run the hub locally: moto + our runner on 127.0.0.1, port HUB_PORT or 8750 (ARGS=--fresh: forget the saved state)
	$(PY) -m local_stack $(ARGS)

invoke: deps ## run one function in-process: make invoke FN=orders_api EVENT=create_order [ARGS=--embedded]
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo 'usage: make invoke FN=<function> EVENT=<event> [ARGS="--embedded|--stack FILE"]' >&2; exit 2; }
	@$(PY) -m local_stack.invoke '$(FN)' '$(EVENT)' $(ARGS)

test: lint validate pytest ## everything CI runs: lint, types, template checks, all test suites

lint: deps ## ruff (check + format), mypy and the import layering (import-linter, contracts in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared functions local_stack tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

format: deps ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

checkov-deps: $(CHECKOV_VENV)/.installed ## create .venv-checkov with checkov (its pins clash with ours)

validate: sam-deps checkov ## sam validate --lint, cfn-lint and checkov on template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(SAM_VENV)/bin/cfn-lint template.yaml

# Offline: no platform download, no version check. Fails on any finding not skipped in place in
# template.yaml with a "# checkov:skip=CKV_...: reason" line.
checkov: checkov-deps ## checkov over template.yaml (fails on a new finding)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download \
		--framework cloudformation --file template.yaml

# Two pytest runs, so that `make -j` (CI) runs the soak, which mostly waits on its own stack, beside
# everything else; each fails on a failed test and when it collects nothing (exit 5).
SOAK_TESTS := tests/e2e/test_soak.py
pytest: pytest-suites pytest-soak ## unit, integration and end-to-end tests (pytest exits non-zero when nothing is collected)
pytest-suites: deps ## every test but the 300-order soak
	$(VENV)/bin/pytest --ignore=$(SOAK_TESTS)
pytest-soak: deps ## the 300-order soak of the local stack (tests/e2e/test_soak.py)
	$(VENV)/bin/pytest $(SOAK_TESTS)

unit: deps ## the unit tests only (tests/unit)
	$(VENV)/bin/pytest tests/unit
integration: deps ## the integration tests only (tests/integration: each handler under moto)
	$(VENV)/bin/pytest tests/integration
e2e: deps ## the end-to-end tests only (tests/e2e: the local stack over HTTP)
	$(VENV)/bin/pytest tests/e2e

events: deps ## refresh events/ for the running `make run` stack (keys, webhook signatures) and write events/env.json
	$(PY) -m local_stack.sam_events

openapi: deps ## regenerate docs/openapi.json from the code
	$(PY) -m local_stack.openapi

# Every module of benchmarks/ but the shared helpers, in name order: a new benchmark is run without
# touching this file. BENCH_ARGS_<name> passes arguments to one (SOAK_ORDERS: the soak's order count).
BENCHMARKS := $(sort $(basename $(notdir $(filter-out benchmarks/__init__.py benchmarks/__main__.py benchmarks/common.py,$(wildcard benchmarks/*.py)))))
SOAK_ORDERS ?= 5000
BENCH_ARGS_soak = --orders $(SOAK_ORDERS)

define run_benchmark
	@echo '==> benchmarks.$(1)'
	$(PY) -m benchmarks.$(1) $(BENCH_ARGS_$(1))

endef

bench: deps ## run every benchmark in benchmarks/ and print its figures (SOAK_ORDERS=5000)
	$(foreach name,$(BENCHMARKS),$(call run_benchmark,$(name)))

clean: ## remove virtualenvs and local state
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(LOCK_VENV) .local .pytest_cache .mypy_cache .ruff_cache

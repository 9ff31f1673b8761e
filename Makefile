# The two set-up commands of the README are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt -e .
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The CDK CLI pinned in package-lock.json (the infra tests run `cdk synth` with it).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: lint typecheck node_modules/.installed
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

demo: $(STAMP)
	$(BIN)/python -m tests.e2e.demo

# The peers measured beside us: mysqldump and the mysql client come with MariaDB; mydumper is Debian's.
bench: $(STAMP)
	command -v mydumper >/dev/null || (apt-get update -qq && apt-get install -y -qq mydumper)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) cdk.out .mypy_cache .ruff_cache .pytest_cache

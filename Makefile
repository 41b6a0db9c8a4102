# audiencesync: `make run` shows the whole pipeline on this machine, `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install browser run test test-fast lint format bench migration secrets clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) browser ## create .venv and install audiencesync with its dev tools

# The dashboard's browser test drives Debian's chromium through chromedriver (Selenium); installed
# here when missing and apt-get exists (root, as CI runs), a no-op once both are present.
browser: ## install Debian's chromium and chromium-driver for the browser test (if missing)
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver (browser test)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } >/dev/null \
			|| echo "warning: could not install chromium; the browser test will fail under CI"; \
	fi

run: $(STAMP) ## the whole pipeline on a demo shop, then serve until Ctrl-C (ONCE=1: exit after the summary)
	$(BIN)/audiencesync up --demo $(if $(ONCE),--once)

test: $(STAMP) browser ## run the test suite (unit, integration on SQLite and PostgreSQL, e2e, drills)
	$(BIN)/pytest -n 3 -m "not drill"
	$(BIN)/pytest -n 2 --dist worksteal -m drill

test-fast: $(STAMP) ## unit tests only
	$(BIN)/pytest tests/unit -q

lint: $(STAMP) ## ruff, format check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## print throughput, latency and memory figures (asserts nothing)
	$(BIN)/python -m bench $(BENCH)

migration: $(STAMP) ## regenerate the initial migration from the models (pre-release only)
	$(BIN)/python -m shared.store.regenerate_initial
	$(BIN)/ruff format shared/store/migrations/versions

# Standard library only, so no .venv is needed to prepare a docker compose host (docs/deploy.md).
secrets: ## create the secret files docker-compose.yml mounts, in var/secrets (SANDBOX=1: sandbox tokens)
	$(PYTHON) -m services.cli.secret_files secrets init --dir var/secrets $(if $(SANDBOX),--sandbox)

clean: ## remove local state (var/) and caches, keep .venv
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

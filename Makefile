# ContactPoint: `make demo` runs the system, `make test` runs the suite. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CHILDREN ?= 50000
DEMO_SEED ?= 2026
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help setup demo serve test test-sqlite test-postgres lint browser-deps bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	@touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

setup: $(STAMP) node_modules/.package-lock.json ## Create the virtual environment and install everything

demo: setup ## Build a North West pilot of synthetic children in SQLite and serve it on :8000
	@mkdir -p var
	env -u DATABASE_URL CONTACTPOINT_ENV=demo $(BIN)/contactpoint migrate --no-input
	env -u DATABASE_URL CONTACTPOINT_ENV=demo $(BIN)/contactpoint createcachetable
	env -u DATABASE_URL CONTACTPOINT_ENV=demo $(BIN)/contactpoint generate --if-empty \
		--children $(DEMO_CHILDREN) --seed $(DEMO_SEED) --authorities pilot
	@if env -u DATABASE_URL $(BIN)/contactpoint help create_demo_accounts >/dev/null 2>&1; then \
		env -u DATABASE_URL CONTACTPOINT_ENV=demo $(BIN)/contactpoint create_demo_accounts; fi
	@echo "ContactPoint (demo) on http://$(HOST):$(PORT)/"
	env -u DATABASE_URL CONTACTPOINT_ENV=demo $(BIN)/contactpoint runserver $(HOST):$(PORT)

test: setup ## Run the whole suite on SQLite, then on PostgreSQL when DATABASE_URL is set
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "DATABASE_URL is not set: skipping the PostgreSQL run"; fi

test-sqlite: setup
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: setup
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "DATABASE_URL must point at PostgreSQL"; exit 2;; esac
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup ## ruff and mypy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

browser-deps: ## Install Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

bench: setup ## Run the benchmarks against PostgreSQL (see benchmarks/README.md)
	$(BIN)/python benchmarks/generate.py

clean: ## Remove the environment, node_modules and local data
	rm -rf $(VENV) node_modules var

# Covey — every target self-documents with its `##` comment: `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
export UV_SYSTEM_CERTS := 1
# uv on PATH, or installed into the user's Python on first use.
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
PYTEST_ARGS ?=
# The demo's port: `make demo PORT=8001` (empty: $COVEY_PORT, else 8000).
PORT ?=

.PHONY: help
help: ## Show every target with its description
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: uv
uv: ## Install uv when it is missing
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check uv

.PHONY: install
install: uv ## Sync the whole workspace (every package, dev tools) from uv.lock
	$(UV) sync --frozen --all-packages

.PHONY: system-deps
system-deps: ## Install system packages the tests use (PostgreSQL server binaries)
	@bash scripts/system_deps.sh

.PHONY: demo
demo: install ## Start the demo service on 127.0.0.1:8000 (PORT=8001 to move it; SQLite under .covey/)
	@PORT="$(PORT)" UV="$(UV)" bash scripts/demo.sh

.PHONY: test
test: install system-deps ## Install everything needed, then run the whole test suite
	$(RUN) python scripts/check_layout.py
	$(RUN) python scripts/run_tests.py $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff format check, ruff check, pyright, the layout check, the lock check
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) pyright
	$(RUN) python scripts/check_layout.py
	$(UV) lock --check

.PHONY: typecheck
typecheck: install ## pyright (strict on packages/*/src)
	$(RUN) pyright

.PHONY: format
format: install ## Apply ruff formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: bench
bench: install ## Measure import time, construction, run-loop overhead (prints tables)
	$(RUN) python bench/run.py

.PHONY: build
build: install ## Build every package's wheel and sdist into dist/
	$(RUN) python scripts/build_all.py

.PHONY: docs
docs: install ## Run every code block in docs/ as a test
	$(RUN) pytest -q docs

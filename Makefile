# Covey — every target self-documents with its `##` comment: `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
export UV_SYSTEM_CERTS := 1
# uv on PATH, or installed into the user's Python on first use.
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
PYTEST_ARGS ?=
# Python versions the spec and core tests also run on, each in its own .venv-<version>.
PYTHONS ?= 3.12 3.13
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
demo: install ## Start the demo service on 127.0.0.1:8000 (PORT=8001 to move it; SQLite under apps/server/.covey/)
	@PORT="$(PORT)" UV="$(UV)" bash scripts/demo.sh

.PHONY: test
test: install system-deps ## Install everything needed, run the whole suite, then spec+core on $(PYTHONS)
	$(RUN) python scripts/check_layout.py
	$(RUN) python scripts/run_tests.py $(PYTEST_ARGS)
	$(if $(strip $(PYTHONS)),$(RUN) python scripts/python_matrix.py $(PYTHONS),@echo "PYTHONS is empty: the other-Python step was left out on request")

.PHONY: test-pythons
test-pythons: install ## Run the spec and core tests on each of $(PYTHONS) (fails if one is missing)
	$(RUN) python scripts/python_matrix.py $(PYTHONS)

.PHONY: lint
lint: install ## ruff format check, ruff check, pyright, layout and import-layer checks, lock check
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) pyright
	$(RUN) python scripts/check_layout.py
	$(RUN) lint-imports
	$(UV) lock --check

.PHONY: typecheck
typecheck: install ## pyright (strict on packages/*/src)
	$(RUN) pyright

.PHONY: format
format: install ## Apply ruff formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

BENCH_ARGS ?=

.PHONY: bench
bench: install ## Measure imports, runs, serving, knowledge, MCP, memory side by side with Agno (BENCH_ARGS=--full: 60 s rows, 100k chunks)
	$(RUN) python bench/run.py $(BENCH_ARGS)

.PHONY: screenshots
screenshots: install system-deps ## Regenerate docs/console/*.png from the console's browser tests
	COVEY_SCREENSHOTS=1 $(RUN) pytest packages/runtime/tests/test_console*.py -q

.PHONY: bench-profile
bench-profile: install ## Profile the runtime under load with py-spy; print where each ms goes
	$(RUN) python bench/profile_runtime.py

.PHONY: build
build: install ## Build every package's wheel and sdist into dist/
	$(RUN) python scripts/build_all.py

.PHONY: docs
docs: install ## Run every python block of docs/*.md and the READMEs as a test (pytest-examples)
	$(RUN) pytest -q docs

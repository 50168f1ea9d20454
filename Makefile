# failover: `make demo` runs the demo on local clouds, `make test` runs every check and test.
# Both install what they need: a .venv with the project and its [all,dev] extras (and [bench] for the
# tests, whose smoke run of the peers benchmark needs multi-storage-client), and Azurite (npm).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.DEFAULT_GOAL := help
.PHONY: help install demo test lint typecheck pytest bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20 and npm (Azurite runs on them)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(NPM_STAMP) ## create .venv, install the project with [all,dev], and Azurite

demo: install ## a one-minute application on local clouds: AWS cut off by DNS failure, then restored
	$(BIN)/python -m failover.cli demo

lint: $(STAMP) ## ruff format check and lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP) ## mypy --strict over the package, the tests and the benchmarks
	$(BIN)/mypy

pytest: install $(BENCH_STAMP) ## the whole pytest suite (starts the emulators itself), in three workers (a file each at a time); the bench extra for the peers benchmark's smoke test
	$(BIN)/python -m pytest -n 3 --dist loadfile

test: lint typecheck pytest ## everything CI runs

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[all,dev,bench]'
	touch $@

bench: install $(BENCH_STAMP) ## every benchmark into benchmarks/results/ and the README's table (QUICK=1: smoke size, into /tmp)
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick --out /tmp/failover-bench-quick)

clean: ## remove the venv, node_modules and caches
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis

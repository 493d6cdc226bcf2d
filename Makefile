# Each target does its whole set-up: a fresh checkout needs only Python 3.11+ and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint sysdeps bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/icp demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

# PostgreSQL and Java for the engines-agree tests, installed when missing.
sysdeps:
	bash scripts/system-deps.sh

# The tests run in parallel, one worker process per core (TEST_WORKERS=0 runs them in one
# process). A test module stays on one worker, so its module-wide fixtures are built once; the
# shared demo workspaces are built once per run for all workers (tests/once.py).
TEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist loadfile

test: lint sysdeps
	PATH="$$PATH:$$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)" $(BIN)/pytest $(PYTEST_PARALLEL) --durations=15

# The quick loop, under two minutes on two cores: everything but the tests marked slow
# (engines, full demos, large CRMs, hostile corpora, heavier integration tests), in parallel
# like make test; see CONTRIBUTING.md.
test-fast: $(STAMP)
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow" -x -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/analyze.py
	$(BIN)/python bench/backtest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

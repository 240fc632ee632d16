# Two commands on a fresh machine: `make run` and `make test`.
# The first of these that is Python 3.11 or newer builds the venv (override: make PYTHON=/path/python).
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	  && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test test-fast check install install-test bench dist clean check-python

$(BIN)/python:
	@$(MAKE) --no-print-directory check-python PYTHON="$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "wabalink needs Python 3.11 or newer: none of $(PYTHON_CANDIDATES) on PATH is 3.11+." >&2; \
	  echo "Install one (e.g. apt-get install python3.11 python3.11-venv) or run: make PYTHON=/path/to/python3.11" >&2; \
	  exit 1; fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "wabalink needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)." >&2; exit 1; }
	@echo "Python: $(PYTHON)"

# The stamp files re-run the install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: $(VENV)/.installed
	$(BIN)/wabalink serve $(ARGS)

# The whole suite on TEST_WORKERS processes (pytest-xdist; 2 by default, at most the CPU count),
# with the ten slowest tests listed so they stay visible. TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 2
TEST_JOBS = $(shell n=$$(nproc 2>/dev/null || echo 1); w=$(TEST_WORKERS); [ $$w -gt $$n ] && w=$$n; echo $$w)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup --durations=10 $(ARGS)

# Only the in-process layer (tests/unit): seconds, not minutes.
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup --durations=10 tests/unit $(ARGS)

# The linter and the type checker, configured in pyproject.toml ([tool.ruff], [tool.mypy]).
check: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py $(ARGS)

# The source distribution and the wheel, in dist/ (`build` comes with the test dependencies).
dist: $(VENV)/.installed-test
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) .wabalink build dist *.egg-info

# The two commands: `make demo` and `make test`. Both create the environment if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# setuptools' "Editable installation." notice (a note that a folder named like the package
# in the working directory could shadow it; ours is the package) reaches pip as a build
# backend warning: one Python warnings filter on that message, in the environment of the
# install, silences it; every other warning and error of pip and setuptools still prints
EDITABLE_QUIET := PYTHONWARNINGS="$${PYTHONWARNINGS:+$$PYTHONWARNINGS,}ignore:Editable installation"

.PHONY: demo test lint env clean bench bench-quick

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(EDITABLE_QUIET) $(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/attribution demo --out runs

# The tests run on one worker per core, at most 4 (pytest-xdist), each taking whole test
# files (--dist loadfile: a file's module-scoped servers and runs are made once); on two cores
# that is about 0.6 of the time of one process. `make test TEST_WORKERS=0` runs them in this
# process (for a debugger, or beside other suites on a shared machine).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Benchmarks (not part of the tests): peers live in their own venv, benchmarks/.venv-bench
bench:
	$(PYTHON) benchmarks/run.py --sizes 1m,10m --repeats 3

bench-quick:
	$(PYTHON) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) runs

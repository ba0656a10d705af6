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

test: $(STAMP)
	$(BIN)/python -m pytest -q

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

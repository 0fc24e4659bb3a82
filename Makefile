# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# the CPU wheel of torch lies in /opt/wheels on these machines; pip also finds it on PyPI's mirror here
PIP_FLAGS ?=

.PHONY: demo test test-all test-slow install install-dev lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) "torch==2.13.0"
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) "torch==2.13.0"
	$(BIN)/pip install $(PIP_FLAGS) -e ".[dev,ray,tune,bench]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/replenish demo

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

# the fast tier (minutes on 2 cores); CI also runs the slow tier (make test-slow)
test: install-dev lint
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

test-slow: install-dev
	$(BIN)/python -m pytest -n 2 -q -m slow

test-all: install-dev lint
	$(BIN)/python -m pytest -n 2 -q

bench: install-dev
	$(BIN)/python benchmarks/dp.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache demo-output

# The two commands a newcomer needs:
#   make demo   install into .venv and run the live demo against the embedded API server
#   make test   install into .venv (plus system packages the tests use) and run every check
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_ARGS ?= --duration 20

.PHONY: demo test lint typecheck unit bench venv system-deps clean

demo: venv
	$(BIN)/kubecache demo $(DEMO_ARGS)

test: venv system-deps lint typecheck unit

lint: venv
	$(BIN)/ruff check kubecache tests bench

typecheck: venv
	$(BIN)/mypy kubecache

unit: venv
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python -m bench

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The two commands a newcomer needs:
#   make demo   install what the demo needs into .venv and run the live demo on the embedded API server
#   make test   install kubecache with its test tools into .venv (plus system packages the tests use)
#               and run every check: ruff, import-linter, mypy --strict, pytest, mkdocs build --strict
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_ARGS ?= --duration 20
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test lint typecheck unit docs bench venv demo-venv system-deps clean

demo: demo-venv
	$(BIN)/kubecache demo $(DEMO_ARGS)

test: venv system-deps lint typecheck unit docs

lint: venv
	$(BIN)/ruff check kubecache tests bench examples mkdocs_hooks.py
	if grep -q '^\[tool.importlinter\]' pyproject.toml; then $(BIN)/lint-imports; fi

typecheck: venv
	$(BIN)/mypy kubecache examples mkdocs_hooks.py

unit: venv
	$(BIN)/pytest -q

# The documentation site: a broken link, anchor, nav entry or docstring fails the build.
docs: venv
	$(BIN)/mkdocs build --strict -q

bench: venv
	$(BIN)/python -m bench

# Two installs into one .venv, each with its own stamp: the demo needs only the
# 'cli' extra; the checks need the 'test' extra (which includes it).
venv: $(VENV)/.installed
demo-venv: $(VENV)/.demo-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[cli]'
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache

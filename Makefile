# flushwatch workflow. `make help` lists the targets.
# Two commands on a fresh clone:  `make demo`  and  `make test`.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# torch first, pinned to the CPU wheel these machines hold, so nothing pulls a CUDA build.
TORCH  := torch==2.13.0
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: help demo test lint typecheck pytest test-slow eval bench train docs clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(BIN)/python
	$(PIP) install $(TORCH)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(PIP) install -e '.[dev,charts]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed  ## set up and run the main job on bundled demo data (offline)
	$(BIN)/flushwatch demo

test: $(VENV)/.installed-dev lint typecheck pytest  ## set up, then ruff, mypy and pytest

lint: $(VENV)/.installed-dev  ## ruff
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev  ## mypy on the package as installed, and on bench/
	$(BIN)/python -m tests.typecheck

pytest: $(VENV)/.installed-dev  ## the test suite (slow tests excluded)
	$(BIN)/pytest -m "not slow" -q --durations=10

test-slow: $(VENV)/.installed-dev  ## only the slow tests
	$(BIN)/pytest -m slow -q

eval: $(VENV)/.installed-dev  ## model quality table + attribution eval on real flushes (needs ../shared/data)
	$(BIN)/flushwatch model eval
	$(BIN)/flushwatch model compare flushwatch-minilm-crypto flushwatch-minilm
	$(BIN)/python bench/eval_attribution.py

train: $(VENV)/.installed-dev  ## retrain the committed heads under models/ (needs ../shared/data)
	$(BIN)/flushwatch model train

bench: $(VENV)/.installed-dev  ## all performance benchmarks (prints measured ratios)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

docs: $(VENV)/.installed  ## regenerate docs/schema.md from storage/sql
	$(BIN)/python -m flushwatch.storage.schema_docs docs/schema.md

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info

# The two commands a newcomer types are `make demo` and `make test`; each builds or refreshes
# .venv by itself (only Python >= 3.11 with pip/venv is needed on the machine).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench fuzz chaos venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Zoneguard needs Python >= 3.11 (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/zoneguard demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Schema fuzzing of the HTTP APIs (tests/fuzz) with many examples per route; `make test`
# runs the same tests with a few. ZONEGUARD_FUZZ_EXAMPLES=N sets how many.
fuzz: $(STAMP)
	ZONEGUARD_FUZZ_EXAMPLES=$${ZONEGUARD_FUZZ_EXAMPLES:-500} $(BIN)/python -m pytest tests/fuzz

# Seeded lifecycles with the worker SIGKILLed at random points (see README "Chaos").
# ARGS are passed on: make chaos ARGS="--lifecycles 1000 --seed 7 --keep-going"
chaos: $(STAMP)
	$(BIN)/zoneguard chaos $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/trigger_index.py
	$(BIN)/python bench/tick_to_order.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

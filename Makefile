# The two commands from the README:
#   make demo   - the main job (see README; ARGS="--keep" and other `scrubctl lab demo` options)
#   make test   - lint, type-check and the whole test suite, lab included
.PHONY: demo test setup bench
SHELL := /bin/bash
VENV := .venv/bin

setup:
	@scripts/bootstrap.sh

demo: setup
	@scripts/demo.sh $(ARGS)

test: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/python -m pytest -q -p no:cacheprovider --durations=30

bench: setup
	$(VENV)/python bench/run.py

# The two commands of the README's quick start; each sets up the environment first
# (tools/setup_env.sh: quick when it is already there).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export MMCELL_VENV := $(abspath $(VENV))

.PHONY: env demo test test-fast

env:
	@bash tools/setup_env.sh

demo: env
	$(PYTHON) tools/demo.py

# Both tiers (what CI runs); test-fast skips trainings, several processes, the demo and the benchmark.
test: env
	$(PYTHON) -m pytest tests

test-fast: env
	$(PYTHON) -m pytest tests -m "not slow"

# mbdsl: one-command setup, demo and tests. Everything installs into .venv from PyPI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SMALL  := specs/mobilenet_v1_w0.25_32.mbn

.PHONY: setup demo test test-fast clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## demo: check a small MobileNet, run the reference, generate its Verilog and simulate it
demo: $(STAMP)
	$(BIN)/mbdsl check $(SMALL) --activations
	$(BIN)/mbdsl run $(SMALL) --random 2
	$(BIN)/mbdsl gen $(SMALL)
	$(BIN)/mbdsl sim $(SMALL) --images 4 --stall 0.2

## test: the whole test suite (CI)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-fast: everyday tier, no Verilator, yosys, gcc or other test of seconds (pytest -m "not slow")
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf generated build .pytest_cache

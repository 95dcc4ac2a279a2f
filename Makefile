# xband: make demo · make test · make bench — each creates .venv and installs what it needs.
# Idempotent: the package is (re)installed only when pyproject.toml, setup.py or ext/ change.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
KERNEL_SRC := $(wildcard ext/*.pyx ext/*.pxd ext/*.pxi ext/isa/*.pyx)
# The suite runs on every core (pytest-xdist, one test file per worker at a time):
# about 6 minutes on a 2-core machine instead of 8. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
PYTEST_FLAGS ?= -n $(TEST_WORKERS) --dist loadfile --durations=15

.PHONY: demo test bench bench-short build clean dist dist-check help
# Every target installs into the one .venv and builds in the one tree: never two at once.
.NOTPARALLEL:

help:
	@echo "make demo   - build xband in .venv and run the default simulated engagement"
	@echo "make test   - build with the test, compare and fast (pyFFTW) extras and run the whole suite"
	@echo "make bench  - run the benchmarks (cython vs numpy reference, peers) to .benchmarks/"
	@echo "make build  - rebuild the Cython kernels in place"
	@echo "make dist   - build an sdist and a wheel into dist/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.stamp-base: $(BIN)/python pyproject.toml setup.py $(KERNEL_SRC)
	$(PIP) install -q -e .
	@touch $@

# One build for make test: installing the extras with the package would compile every
# kernel a second time, so the test stamp installs both at once and marks the base as done.
$(VENV)/.stamp-test: $(BIN)/python pyproject.toml setup.py $(KERNEL_SRC)
	$(PIP) install -q -e ".[test,compare,fast]"
	@touch $@ $(VENV)/.stamp-base

build: $(BIN)/python
	$(PIP) install -q -e .
	@touch $(VENV)/.stamp-base

demo: $(VENV)/.stamp-base
	$(BIN)/xband demo

test: $(VENV)/.stamp-test
	XBAND_KERNELS=cython $(BIN)/python -m pytest -q $(PYTEST_FLAGS)
	XBAND_KERNELS=reference $(BIN)/python -m pytest -q -m reference_rerun -p no:cacheprovider $(PYTEST_FLAGS)

bench: $(VENV)/.stamp-test
	mkdir -p .benchmarks
	XBAND_KERNELS=cython $(BIN)/python -m pytest benches -q --benchmark-only \
	  --benchmark-group-by=group --benchmark-sort=name \
	  --benchmark-json=.benchmarks/bench-$$(date +%Y%m%d-%H%M%S).json

# A short run for CI: few rounds, still both twins side by side on the same input.
bench-short: $(VENV)/.stamp-test
	mkdir -p .benchmarks
	XBAND_KERNELS=cython XBAND_BENCH_SHORT=1 $(BIN)/python -m pytest benches -q --benchmark-only \
	  --benchmark-group-by=group --benchmark-sort=name --benchmark-min-rounds=3 \
	  --benchmark-max-time=0.05 --benchmark-json=.benchmarks/bench-ci.json

dist: $(BIN)/python
	rm -rf dist
	$(PIP) install -q build
	$(BIN)/python -m build

# The packaging check: sdist + wheel, the wheel installed alone into a clean venv, demo run.
dist-check: dist
	rm -rf build/dist-venv
	$(PYTHON) -m venv build/dist-venv
	build/dist-venv/bin/python -m pip install -q dist/xband-*.whl
	cd build && dist-venv/bin/xband demo --json --no-record --no-plot > dist-demo.json
	@echo "wheel installs and runs: $$(head -c 120 build/dist-demo.json)"

clean:
	rm -rf build dist src/*.egg-info src/xband/_ext/*.so ext/*.c .pytest_cache

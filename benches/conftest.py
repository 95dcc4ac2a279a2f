"""Benchmark fixtures: both kernel twins on the same input, grouped side by side.

XBAND_BENCH_SHORT=1 (make bench-short, CI) trims the batch sizes so the run takes seconds.
"""
import importlib
import os

import numpy as np
import pytest

SHORT = os.environ.get("XBAND_BENCH_SHORT") == "1"


def sizes(*full, short=None):
    return list(short if (SHORT and short is not None) else full)


@pytest.fixture(params=["cython", "reference"])
def impl(request):
    """(name, module factory): ``impl[1](stem)`` imports that twin of the kernel stem."""
    kind = request.param

    def load(stem):
        pkg = "xband._ext" if kind == "cython" else "xband.reference"
        return importlib.import_module(f"{pkg}.{stem}")

    return kind, load


@pytest.fixture
def rng():
    return np.random.default_rng(20261129)

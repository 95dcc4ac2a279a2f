"""Shared fixtures: seeded generators, the kernel-backend fixture, the --hil option."""
import os
import zlib

import numpy as np
import pytest

from xband import _kernels


def pytest_addoption(parser):
    parser.addoption("--hil", metavar="URL", default=None,
                     help="run the hardware contract tests against this device URL")


@pytest.fixture
def rng(request):
    """A Generator seeded from the test's name: reproducible and independent per test."""
    seed = zlib.crc32(request.node.nodeid.encode())      # stable across processes
    return np.random.default_rng(np.random.SeedSequence([20261129, seed]))


# The rerun on the numpy references (XBAND_KERNELS=reference, see the Makefile) needs only
# the reference side; the first pass runs both.
_BACKENDS = (["reference"] if os.environ.get("XBAND_KERNELS", "").lower() == "reference"
             else ["cython", "reference"])


@pytest.fixture(params=_BACKENDS)
def backend(request):
    """Run the test once on each kernel backend, then restore the one in force."""
    before = _kernels._state["mode"]
    _kernels.set_backend(request.param)
    yield request.param
    _kernels.set_backend(before)

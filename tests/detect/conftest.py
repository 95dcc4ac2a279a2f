"""A process-independent ``rng`` for the statistical tests of this folder.

Same idea as tests/conftest.py's fixture (a Generator seeded from the test's node id), but
hashed with CRC-32 instead of ``hash()``, whose value changes with PYTHONHASHSEED from one
process to the next: the statistical checks here (99 % intervals) must be reproducible,
not fail 1 % of the time at random.
"""
import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(np.random.SeedSequence([20261129, seed]))

"""XBAND_KERNELS: auto falls back loudly, cython insists, reference forces the twins."""
import warnings

import pytest

from xband import _kernels
from xband.errors import ConfigError, KernelError


@pytest.fixture
def restore():
    before = _kernels._state["mode"]
    yield
    _kernels.set_backend(before)


def test_modes(restore):
    assert _kernels.set_backend("cython") == "cython"
    # the compiled build, or its AVX2 variant on CPUs with AVX2 (ext/isa/kalman_avx2.pyx)
    assert _kernels.get("kalman").__name__ in ("xband._ext.kalman", "xband._ext.kalman_avx2")
    assert _kernels.set_backend("reference") == "reference"
    assert _kernels.get("kalman").__name__ == "xband.reference.kalman"
    with pytest.raises(ConfigError, match="XBAND_KERNELS"):
        _kernels.set_backend("fast")


def test_missing_build(restore, monkeypatch):
    def broken(stem):
        raise ImportError(f"No module named 'xband._ext.{stem}'")

    monkeypatch.setattr(_kernels, "_load_compiled", broken)
    with pytest.raises(KernelError, match="make build"):
        _kernels.set_backend("cython")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert _kernels.set_backend("auto") == "reference"
    assert len(w) == 1 and "make build" in str(w[0].message)

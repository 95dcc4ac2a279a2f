"""ISA variants: ext/isa/<stem>_avx2.pyx is the same source built with -mavx2; it must give
the same bits as the baseline build, and the loader picks it only where the CPU has AVX2."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from xband import _kernels
from xband.errors import ConfigError
from xband.guide.engagement import lag_matrices


def _variant(name):
    try:
        return importlib.import_module(f"xband._ext.{name}")
    except ImportError:
        return None


def test_isa_selection(monkeypatch):
    monkeypatch.setenv("XBAND_ISA", "baseline")
    assert _kernels.isa() == "baseline"
    assert _kernels._load_compiled("flyout").__name__ == "xband._ext.flyout"
    monkeypatch.setenv("XBAND_ISA", "sse9")
    with pytest.raises(ConfigError, match="XBAND_ISA"):
        _kernels.isa()
    monkeypatch.setenv("XBAND_ISA", "auto")
    monkeypatch.setattr(_kernels, "_cpu_has_avx2", lambda: False)
    assert _kernels.isa() == "baseline"
    monkeypatch.setattr(_kernels, "_cpu_has_avx2", lambda: True)
    assert _kernels.isa() == "avx2"
    want = "xband._ext.flyout_avx2" if _variant("flyout_avx2") else "xband._ext.flyout"
    assert _kernels._load_compiled("flyout").__name__ == want
    assert _kernels._load_compiled("cluster").__name__ == "xband._ext.cluster"  # no variant


@pytest.mark.parametrize("law,order,tau,integ,man,grav,g_every", [
    (3, 1, 0.2, 1, 0, 0.0, 1), (5, 1, 0.2, 1, 1, 9.80665, 1), (3, 3, 0.3, 1, 2, 0.0, 10),
    (4, 2, 0.25, 0, 1, 9.80665, 2)])
def test_avx2_flyout_equals_baseline_bit_for_bit(rng, law, order, tau, integ, man, grav,
                                                   g_every):
    base, avx = _variant("flyout"), _variant("flyout_avx2")
    if avx is None:
        pytest.skip("no AVX2 build of flyout on this platform (x86-64 only)")
    if not _kernels._cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    n = 203                                   # not a multiple of any vector width
    M = np.zeros((6 + 3 * order, n))
    M[3:6] = rng.normal(size=(3, n)) * 50 + np.array([[0.0], [700.0], [0.0]])
    T = np.zeros((6, n))
    T[0:3] = rng.uniform(-300, 300, (3, n)) + np.array([[0.0], [1500.0], [0.0]])
    T[3:6] = rng.normal(size=(3, n)) * 30 + np.array([[0.0], [-250.0], [0.0]])
    MAN = np.zeros((6, n))
    MAN[0:3] = rng.normal(size=(3, n)) * 30
    MAN[3], MAN[4], MAN[5] = rng.uniform(0, 1, n), rng.uniform(1, 3, n), rng.uniform(0, 6, n)
    dt = 1e-3
    phi, gam, gg = lag_matrices(tau, order, dt, "rk4" if integ else "euler")
    out = []
    for mod in (base, avx):
        m, t, ac = M.copy(), T.copy(), np.zeros((3, n))
        st, tc, ms, stats = np.zeros(n, np.uint8), np.zeros(n), np.zeros(n), np.zeros((3, n))
        for call in range(6):
            mod.fly(m, t, ac, MAN, phi, gam, gg, law, 4.0, tau, 300.0, grav, man, integ,
                    g_every, dt, call * 700, 700, st, tc, ms, stats)
        out.append((m, t, ac, st, tc, ms, stats))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)

"""The compiled detection kernels (ext/cfar.pyx, ext/cluster.pyx) are identical to their
numpy references (xband.reference.cfar / .cluster) on random and edge-case maps."""
import numpy as np
import pytest

from xband.reference import cfar as r_cfar, cluster as r_clu

c_cfar = pytest.importorskip("xband._ext.cfar")
c_clu = pytest.importorskip("xband._ext.cluster")

pytestmark = pytest.mark.reference_rerun


def _run_cfar(mod, P, gr, gd, tr, td, mode, alpha, rank, lo, hi, cap=20000):
    N = (2 * (gr + tr) + 1) * (2 * (gd + td) + 1) - (2 * gr + 1) * (2 * gd + 1)
    work = np.zeros((5, max(P.shape[1] + 1, N)))
    idx, noise = np.zeros(cap, np.int64), np.zeros(cap)
    n = mod.cfar_2d(P, gr, gd, tr, td, mode, alpha, rank, lo, hi, work, idx, noise)
    m = min(n, cap)
    return n, idx[:m].copy(), noise[:m].copy()


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
@pytest.mark.parametrize("geom", [(2, 1, 8, 2), (0, 0, 3, 1), (1, 0, 4, 0), (3, 2, 5, 3)])
def test_cfar_identical_to_reference(rng, mode, geom):
    gr, gd, tr, td = geom                                  # every geometry has tr > 0
    P = rng.exponential(1.0, (24, 300)).astype(np.float32)
    P[5, 100] = 60.0                                       # a target
    P[:, 200:210] *= 20                                    # a clutter edge
    rank = 5 if mode == 3 else 1
    a = _run_cfar(c_cfar, P, gr, gd, tr, td, mode, 4.0, rank, 3, 290)
    b = _run_cfar(r_cfar, P, gr, gd, tr, td, mode, 4.0, rank, 3, 290)
    assert a[0] == b[0] > 0
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[2], b[2], rtol=1e-12)


def test_cfar_edges_and_overflow(rng):
    P = rng.exponential(1.0, (8, 40)).astype(np.float32)
    for mod in (c_cfar, r_cfar):
        assert _run_cfar(mod, np.ascontiguousarray(P[:, :20]), 2, 1, 8, 2, 0, 0.0, 1, 0, 20)[0] == 0  # window > map
        n, idx, _ = _run_cfar(mod, P, 1, 0, 2, 1, 0, 0.0, 1, 0, 40, cap=5)
        assert n == 8 * (40 - 6) and idx.size == 5                       # count beyond cap
        n, idx, _ = _run_cfar(mod, P, 1, 0, 2, 1, 0, 0.0, 1, 10, 12)
        assert set(idx % 40) == {10, 11}                                  # r_lo / r_hi


@pytest.mark.parametrize("thr", [1.5, 3.0, 8.0])
def test_cluster_identical_to_reference(rng, thr):
    P = rng.exponential(1.0, (40, 120)).astype(np.float32)
    idx = np.flatnonzero(P.reshape(-1) > thr).astype(np.int64)
    outs = []
    for mod in (c_clu, r_clu):
        n = idx.size
        lab, pk, sz, ce = (np.zeros(n, np.int64), np.zeros(n, np.int64),
                           np.zeros(n, np.int64), np.zeros((n, 3)))
        nc = mod.cluster_peaks(P, idx, lab, pk, sz, ce)
        outs.append((nc, lab, pk[:nc], sz[:nc], ce[:nc]))
    assert outs[0][0] == outs[1][0]
    for a, b in zip(outs[0][1:], outs[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert outs[0][3].sum() == idx.size


def test_cluster_connectivity():
    P = np.ones((6, 10), np.float32)
    cells = [(0, 0), (1, 1), (2, 2),      # one diagonal component
             (0, 5), (0, 6),              # a second one
             (5, 0),                      # Doppler adjacency does not wrap: a third
             (4, 8)]
    P[1, 1] = 5.0
    idx = np.array(sorted(d * 10 + r for d, r in cells), np.int64)
    for mod in (c_clu, r_clu):
        n = idx.size
        lab, pk, sz = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
        ce = np.zeros((n, 3))
        nc = mod.cluster_peaks(P, idx, lab, pk, sz, ce)
        assert nc == 4
        assert list(sz[:nc]) == [3, 2, 1, 1]
        assert pk[0] == 11
        nc0 = mod.cluster_peaks(P, idx[:0], lab[:0], pk[:0], sz[:0], ce[:0])
        assert nc0 == 0


c_pulse = pytest.importorskip("xband._ext.pulse")
from xband.reference import pulse as r_pulse  # noqa: E402


def _cx(rng, *shape, dtype=np.complex64):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("M", [12, 14])
@pytest.mark.parametrize("Nd", [64, 32, 16])
def test_spectrum_weight_identical(rng, Nd, M):
    X = _cx(rng, 12, 64)
    H, w = _cx(rng, Nd), rng.random(12).astype(np.float32)
    a, b = np.full((M, Nd), 7, np.complex64), np.full((M, Nd), 7, np.complex64)
    c_pulse.spectrum_weight(X, H, w, a)
    r_pulse.spectrum_weight(X, H, w, b)
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
    # pulses reversed modulo M: row 0 stays, pulse p lands in row M − p
    k = np.arange(Nd)
    k = np.where(k < Nd // 2, k, k + 64 - Nd)
    np.testing.assert_allclose(a[M - 5], X[5, k] * H * w[5], rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(a[0], X[0, k] * H * w[0], rtol=2e-6, atol=1e-6)
    assert np.all(a[1:M - 11] == 7)                # rows of no pulse are left untouched


def test_square_law_identical(rng):
    X = _cx(rng, 7, 33) * 10
    a, b = np.empty((7, 33), np.float32), np.empty((7, 33), np.float32)
    c_pulse.square_law(X, a)
    r_pulse.square_law(X, b)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    Xw = np.concatenate([X, _cx(rng, 7, 8)], axis=1)       # padded rows: extra ignored
    c_pulse.square_law(Xw, a)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    r_pulse.square_law(Xw, a)
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("taps", [[1.0], [1.0, -1.0], [1.0, -2.0, 1.0]])
def test_gate_dft_identical(rng, taps):
    P, Ns, L = 16, 200, 30
    x = _cx(rng, P, Ns)
    hc = _cx(rng, L, dtype=np.complex128)
    taps = np.asarray(taps) / np.linalg.norm(taps)
    wts = rng.random(P - len(taps) + 1)
    gates = np.array([0, 5, 169, 170, 199], np.int64)     # the last two wrap around
    bins = np.array([0, 3, 7, 15, 8], np.int64)
    a, b = np.empty(5, complex), np.empty(5, complex)
    c_pulse.gate_dft(x, hc, taps, wts, gates, bins, 16, a)
    r_pulse.gate_dft(x, hc, taps, wts, gates, bins, 16, b)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    e = np.empty(0, complex)
    c_pulse.gate_dft(x, hc, taps, wts, gates[:0], bins[:0], 16, e)

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
    cells = [(0, 0), (1, 1), (2, 2),      # one diagonal component …
             (0, 5), (0, 6),              # a second one
             (5, 0),                      # … which Doppler adjacency joins across the edge
             (3, 9), (3, 0),              # range does not wrap: not joined
             (4, 8)]                      # … and (4, 8) joins (3, 9)
    P[1, 1] = 5.0
    idx = np.array(sorted(d * 10 + r for d, r in cells), np.int64)
    for mod in (c_clu, r_clu):
        n = idx.size
        lab, pk, sz = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
        ce = np.zeros((n, 3))
        nc = mod.cluster_peaks(P, idx, lab, pk, sz, ce)
        assert nc == 4
        assert list(sz[:nc]) == [4, 2, 1, 2]          # first cells 0, 5, 30, 39
        assert pk[0] == 11
        # circular Doppler centroid around the peak (bin 1): bins 0, 1, 2 and 5 ≡ −1
        assert ce[0, 0] == pytest.approx((0 + 5 * 1 + 2 - 1) / 8.0)
        nc0 = mod.cluster_peaks(P, idx[:0], lab[:0], pk[:0], sz[:0], ce[:0])
        assert nc0 == 0


@pytest.mark.parametrize("M", [2, 3, 8])
def test_cluster_doppler_edge_wraps(rng, M):
    """A blob straddling the Doppler edge (rows M − 1 and 0) is one component with its
    centroid next to the edge; on M = 2 rows (adjacent anyway) nothing changes."""
    Nr = 12
    P = rng.random((M, Nr)).astype(np.float32) + 1.0
    P[0, 5], P[M - 1, 5], P[M - 1, 6] = 9.0, 7.0, 3.0
    cells = sorted({0 * Nr + 5, (M - 1) * Nr + 5, (M - 1) * Nr + 6, 0 * Nr + 4})
    idx = np.array(cells, np.int64)
    res = []
    for mod in (c_clu, r_clu):
        n = idx.size
        lab, pk, sz, ce = (np.zeros(n, np.int64), np.zeros(n, np.int64),
                           np.zeros(n, np.int64), np.zeros((n, 3)))
        nc = mod.cluster_peaks(P, idx, lab, pk, sz, ce)
        assert nc == 1 and sz[0] == 4 and pk[0] == 5
        w = P.reshape(-1)[idx].astype(float)
        dd = np.array([0.0 if c < Nr else -1.0 for c in cells])
        if M == 2:
            dd = np.array([0.0 if c < Nr else 1.0 for c in cells])   # plain mean
        exp = (w * dd).sum() / w.sum() % M
        assert ce[0, 0] == pytest.approx(exp, rel=1e-12)
        assert ce[0, 1] == pytest.approx((w * (idx % Nr)).sum() / w.sum(), rel=1e-12)
        res.append(ce[:1].copy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12)


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


@pytest.mark.parametrize("P", [16, 19])                    # 19: the pulses after the blocks of 4
def test_gate_dft_channels_same_bits_as_per_channel(rng, P):
    """One call for several channels of a cube gives, bit for bit, one gate_dft call per
    channel (compiled), and the twin's values (reference) to rounding; channels in any
    order, repeated, and gates that wrap around."""
    Ns, L = 200, 30
    x = _cx(rng, 3, P, Ns)
    hc = _cx(rng, L, dtype=np.complex128)
    taps = np.array([1.0, -2.0, 1.0]) / np.sqrt(6.0)
    wts = rng.random(P - 2)
    gates = np.array([0, 5, 169, 170, 199, 5], np.int64)   # 170, 199 wrap; 5 twice
    bins = np.array([0, 3, 7, 15, 8, 9], np.int64)
    chans = np.array([2, 0, 1, 0], np.int64)
    work = np.full(2 * L * 4, np.nan)                      # stale scratch must not leak
    outs = {}
    for mod in (c_pulse, r_pulse):
        o = np.empty((4, 6), complex)
        mod.gate_dft_channels(x, chans, hc, taps, wts, gates, bins, 16, work, o)
        one = np.empty((4, 6), complex)
        for c, xc in enumerate(chans):
            mod.gate_dft(x[xc], hc, taps, wts, gates, bins, 16, one[c])
        assert o.tobytes() == one.tobytes()
        outs[mod] = o
    np.testing.assert_allclose(outs[c_pulse], outs[r_pulse], rtol=1e-10, atol=1e-10)
    assert outs[c_pulse][1].tobytes() == outs[c_pulse][3].tobytes()     # channel 0 twice
    # one target at (gate 40, bin 3) of channel 1 only: a closed form with taps = [1],
    # uniform weights: out = Σ_p e^{+j2π3p/16}·e^{−j2π3p/16} · Σ_l |h_l|² = P·‖h‖²
    x2 = np.zeros((2, 16, 100), np.complex64)
    h = _cx(rng, 8, dtype=np.complex128)
    ph = np.exp(2j * np.pi * 3 * np.arange(16) / 16)
    x2[1, :, 40:48] = (ph[:, None] * h).astype(np.complex64)
    o = np.empty((2, 1), complex)
    c_pulse.gate_dft_channels(x2, np.array([0, 1], np.int64), np.conj(h), np.ones(1),
                              np.ones(16), np.array([40], np.int64), np.array([3], np.int64),
                              16, np.empty(32), o)
    assert o[0, 0] == 0
    hq = x2[1, 0, 40:48].astype(np.complex128)
    np.testing.assert_allclose(o[1, 0], 16 * np.vdot(h, hq), rtol=1e-6)


def test_gate_dft_channels_bad_input(rng):
    x = _cx(rng, 3, 8, 50)
    hc = _cx(rng, 10, dtype=np.complex128)
    taps, wts = np.ones(1), np.ones(8)
    g, b = np.array([3, 4], np.int64), np.array([1, 2], np.int64)
    for mod in (c_pulse, r_pulse):
        e = np.empty((0, 0), complex)                      # no cells: nothing to do
        mod.gate_dft_channels(x, np.zeros(0, np.int64), hc, taps, wts, g[:0], b[:0], 8,
                              np.empty(0), e)
        with pytest.raises(ValueError, match="channel"):
            mod.gate_dft_channels(x, np.array([0, 3], np.int64), hc, taps, wts, g, b, 8,
                                  np.empty(40), np.empty((2, 2), complex))
        with pytest.raises(ValueError, match="gate"):
            mod.gate_dft_channels(x, np.array([0], np.int64), hc, taps, wts,
                                  np.array([3, 50], np.int64), b, 8, np.empty(40),
                                  np.empty((1, 2), complex))
        with pytest.raises(ValueError):                    # work too short for 2 channels
            mod.gate_dft_channels(x, np.array([0, 1], np.int64), hc, taps, wts, g, b, 8,
                                  np.empty(39), np.empty((2, 2), complex))
        with pytest.raises(ValueError):                    # out not (channels, cells)
            mod.gate_dft_channels(x, np.array([0, 1], np.int64), hc, taps, wts, g, b, 8,
                                  np.empty(40), np.empty((2, 3), complex))


# ---- OS-CFAR: the slid-histogram kernel against the selection definition of the twin ----
def _os_both(P, geom, alpha, rank, lo=0, hi=None, cap=200000):
    hi = P.shape[1] if hi is None else hi
    a = _run_cfar(c_cfar, P, *geom, 3, alpha, rank, lo, hi, cap)
    b = _run_cfar(r_cfar, P, *geom, 3, alpha, rank, lo, hi, cap)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])          # the same cell's value: exact
    return a[0]


@pytest.mark.parametrize("geom", [(2, 1, 8, 2), (0, 0, 3, 1), (1, 0, 4, 0), (3, 2, 5, 3),
                                  (0, 2, 6, 0)])
def test_os_cfar_identical_random_and_ranks(rng, geom):
    gr, gd, tr, td = geom
    N = (2 * (gr + tr) + 1) * (2 * (gd + td) + 1) - (2 * gr + 1) * (2 * gd + 1)
    P = rng.exponential(1.0, (16, 160)).astype(np.float32)
    P[3, 50] = 80.0
    P[:, 100:108] *= 30                                   # clutter edge
    P[7, 10:30] = 0.0                                     # zeros (blanked)
    for rank in sorted({1, 2, N // 2, (3 * N + 3) // 4, N - 1, N}):
        for alpha in (0.5, 2.0, 6.0):
            _os_both(P, geom, alpha, rank, 2, 150)


def test_os_cfar_ties_constant_and_boundaries(rng):
    geom = (1, 1, 3, 1)
    # ties: a few integer levels; alpha = 2 makes power == alpha·Z exactly on many cells
    # (strict > : no crossing there), the slid counts must not round either way
    P = rng.integers(0, 4, (12, 90)).astype(np.float32)
    n_ties = _os_both(P, geom, 2.0, 20)
    assert n_ties > 0
    # powers of two: every threshold CUT/α falls exactly on a bucket edge
    P2 = (2.0 ** rng.integers(-30, 30, (12, 90))).astype(np.float32)
    for alpha in (1.0, 2.0, 4.0, 1.0 + 2 ** -20):
        _os_both(P2, geom, alpha, 18)
    # constant map: Z = c everywhere; α < 1 declares every tested cell, α ≥ 1 none
    C = np.full((12, 90), 3.0, np.float32)
    assert _os_both(C, geom, 0.999, 10) == 12 * (90 - 8)
    assert _os_both(C, geom, 1.0, 10) == 0
    # denormal, tiny and huge values, and −0.0
    P3 = rng.exponential(1.0, (12, 90)).astype(np.float32)
    P3[2, ::3] = 1e-42
    P3[5, ::4] = 3e38
    P3[8, ::5] = -0.0
    for rank in (1, 10, 30):
        _os_both(P3, geom, 1.5, rank)
    # the range edges and window limits of the tested gates; alpha ≤ 0 (exact path)
    _os_both(P3, geom, 1.5, 10, lo=0, hi=5)               # window wider than [0, 5)
    _os_both(P3, geom, 1.5, 10, lo=4, hi=5)
    _os_both(P3, geom, 1.5, 10, lo=80, hi=90)
    _os_both(P3, geom, 0.0, 10)


# ---- CA-CFAR: the columns it reads, and the AVX2 builds of cfar and rdmap --------------
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_cfar_reads_only_the_window_span(rng, mode):
    """The CA family sums only the columns the tested gates' windows cover,
    [max(r_lo, wr) − wr, min(r_hi, Nr − wr) + wr]: changing every column outside leaves the
    crossings and Z bit-identical (the chain's map is 0 there, never Doppler-processed);
    inside, both agree with the twin."""
    gr, gd, tr, td = 2, 1, 8, 2
    wr = gr + tr
    P = rng.exponential(1.0, (20, 260)).astype(np.float32)
    P[4, 90] = P[11, 150] = 80.0
    lo, hi = 40, 200
    a = _run_cfar(c_cfar, P, gr, gd, tr, td, mode, 5.0, 1, lo, hi)
    b = _run_cfar(r_cfar, P, gr, gd, tr, td, mode, 5.0, 1, lo, hi)
    assert a[0] == b[0] >= 2
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[2], b[2], rtol=1e-12)
    # alpha = 0: every tested cell crosses, so every Z is compared
    a = _run_cfar(c_cfar, P, gr, gd, tr, td, mode, 0.0, 1, lo, hi)
    assert a[0] == 20 * (hi - lo)
    Q = P.copy()
    Q[:, :lo - wr] = 1e30 * rng.random((20, lo - wr))
    Q[:, hi + wr:] = np.nan                    # from the first column no window reads
    c = _run_cfar(c_cfar, Q, gr, gd, tr, td, mode, 0.0, 1, lo, hi)
    assert c[0] == a[0]
    np.testing.assert_array_equal(c[1], a[1])
    np.testing.assert_array_equal(c[2], a[2])
    # one column further in on either side does change Z (the span is not too narrow)
    for col in (lo - wr, hi + wr - 1):
        Q = P.copy()
        Q[:, col] += 1000.0
        assert not np.array_equal(_run_cfar(c_cfar, Q, gr, gd, tr, td, mode, 0.0, 1, lo,
                                             hi)[2], a[2])


def _avx2_or_skip(stem):
    from xband import _kernels

    if not _kernels._cpu_has_avx2():      # built on every x86-64, runnable only with AVX2
        pytest.skip("this CPU has no AVX2")
    try:
        return __import__(f"xband._ext.{stem}_avx2", fromlist=["x"])
    except ImportError:
        pytest.skip(f"no AVX2 build of {stem} (not x86-64, or not built)")


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_cfar_avx2_build_same_bits(rng, mode):
    """ext/isa/cfar_avx2.pyx (the same source with -mavx2, loaded on AVX2 CPUs) gives the
    same crossings and the same Z bits as the baseline build."""
    avx = _avx2_or_skip("cfar")
    P = rng.exponential(1.0, (32, 700)).astype(np.float32)
    P[:, 300:320] *= 25
    P[9, 500] = 90.0
    a = _run_cfar(c_cfar, P, 4, 2, 8, 2, mode, 4.0, 40, 13, 690)
    b = _run_cfar(avx, P, 4, 2, 8, 2, mode, 4.0, 40, 13, 690)
    assert a[0] == b[0] > 0
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


def test_rdmap_avx2_build_same_bits(rng):
    base = pytest.importorskip("xband._ext.rdmap")
    avx = _avx2_or_skip("rdmap")
    nb, Ns, Nd = 6, 256, 128
    for taps in ([1.0], [1.0, -2.0, 1.0]):
        taps = np.asarray(taps)
        F = _cx(rng, nb + taps.size - 1, Ns)
        H = _cx(rng, Nd)
        w = rng.random(nb).astype(np.float32)
        outs = []
        for mod in (base, avx):
            o = np.empty((nb, Nd), np.complex64)
            mod.weight_block(F, H, taps, w, True, o)
            outs.append(o)
        assert outs[0].tobytes() == outs[1].tobytes()
    X = _cx(rng, 16, 136)
    p1, p2 = np.zeros((16, 128), np.float32), np.zeros((16, 128), np.float32)
    base.square_law_cols(X, 5, 120, p1)
    avx.square_law_cols(X, 5, 120, p2)
    assert p1.tobytes() == p2.tobytes()


def test_pulse_avx2_build_same_bits(rng):
    """An AVX2 build of ext/pulse.pyx (ext/isa/pulse_avx2.pyx, where one is built) gives the
    same monopulse values (gate_dft) and map passes as the baseline build, bit for bit."""
    avx = _avx2_or_skip("pulse")
    P, Ns, L = 24, 300, 41
    x = _cx(rng, P, Ns)
    hc = _cx(rng, L, dtype=np.complex128)
    wts = rng.random(P - 2)
    taps = np.array([1.0, -2.0, 1.0]) / np.sqrt(6.0)
    gates = np.array([0, 7, 150, 259, 280], np.int64)      # the last two wrap around
    bins = np.array([0, 3, 11, 23, 12], np.int64)
    outs = []
    for mod in (c_pulse, avx):
        o = np.empty(5, complex)
        mod.gate_dft(x, hc, taps, wts, gates, bins, 24, o)
        outs.append(o)
        o3 = np.empty((2, 5), complex)
        mod.gate_dft_channels(np.stack([x, x[::-1].copy()]), np.array([1, 0], np.int64), hc,
                              taps, wts, gates, bins, 24, np.empty(4 * L), o3)
        outs.append(o3)
    assert outs[0].tobytes() == outs[2].tobytes() == outs[3][1].tobytes()
    assert outs[1].tobytes() == outs[3].tobytes()
    H = _cx(rng, 128)
    w = rng.random(P).astype(np.float32)
    a, b = np.zeros((32, 128), np.complex64), np.zeros((32, 128), np.complex64)
    c_pulse.spectrum_weight(x, H, w, a)
    avx.spectrum_weight(x, H, w, b)
    assert a.tobytes() == b.tobytes()
    p1, p2 = np.empty((P, 200), np.float32), np.empty((P, 200), np.float32)
    c_pulse.square_law(x, p1)
    avx.square_law(x, p2)
    assert p1.tobytes() == p2.tobytes()

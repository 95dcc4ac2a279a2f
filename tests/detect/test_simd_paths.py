"""The explicit AVX paths of the detection kernels (C blocks in ext/cfar.pyx, ext/rdmap.pyx,
ext/pulse.pyx, compiled only into the -mavx2 builds ext/isa/*_avx2.pyx) against the
scalar loops of the baseline builds, bit for bit, on every remainder the vector loops leave
(lengths not multiples of the vector width, segments shorter than one block), on maps with
a wide dynamic range (where a reordered sum would round differently), and against the
numpy twins."""
import numpy as np
import pytest

from xband.reference import cfar as r_cfar, rdmap as r_rdmap

c_cfar = pytest.importorskip("xband._ext.cfar")
c_rdmap = pytest.importorskip("xband._ext.rdmap")
c_pulse = pytest.importorskip("xband._ext.pulse")


def _avx2_or_skip(stem):
    from xband import _kernels

    if not _kernels._cpu_has_avx2():      # the build exists on every x86-64; running it
        pytest.skip("this CPU has no AVX2")   # here would be an illegal instruction
    try:
        return __import__(f"xband._ext.{stem}_avx2", fromlist=["x"])
    except ImportError:
        pytest.skip(f"no AVX2 build of {stem} (not x86-64, or not built)")


def _cx(rng, *shape, dtype=np.complex64):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _cfar(mod, P, geom, mode, alpha, lo, hi, cap=100_000):
    gr, gd, tr, td = geom
    N = (2 * (gr + tr) + 1) * (2 * (gd + td) + 1) - (2 * gr + 1) * (2 * gd + 1)
    work = np.zeros((5, max(P.shape[1] + 1, N)))
    idx, noise = np.zeros(cap, np.int64), np.zeros(cap)
    n = mod.cfar_2d(P, gr, gd, tr, td, mode, alpha, 1, lo, hi, work, idx, noise)
    m = min(n, cap)
    return n, idx[:m].copy(), noise[:m].copy()


def _wide_map(rng, M, Nr):
    """Exponential noise scaled over 60 orders of magnitude by column blocks and a few
    huge and tiny cells: float64 sums of these round, so any change of the order of the
    additions would show in the bits of Z."""
    P = rng.exponential(1.0, (M, Nr))
    P *= 10.0 ** rng.integers(-30, 30, (1, Nr))
    P[rng.integers(0, M, 6), rng.integers(0, Nr, 6)] = 3e37
    return P.astype(np.float32)


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("n", [1, 3, 4, 15, 16, 17, 18, 19, 33, 34, 35, 64, 257])
def test_cfar_lanes_every_remainder_same_bits(rng, mode, n):
    """CA (the lanes path) and GO/SO (scalar in both builds), tested gates [lo, lo + n):
    segments of m = n // 4 steps with m mod 4 = 0 … 3 and m < 4 (no vector step), the
    last segment's tail; every cell crosses (alpha = 0) so every Z is compared."""
    avx = _avx2_or_skip("cfar")
    geom = (2, 1, 5, 2)
    wr = 7
    lo = wr + 3
    P = rng.exponential(1.0, (12, lo + n + wr + 5)).astype(np.float32)
    a = _cfar(c_cfar, P, geom, mode, 0.0, lo, lo + n)
    b = _cfar(avx, P, geom, mode, 0.0, lo, lo + n)
    assert a[0] == b[0] == 12 * n
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].tobytes() == b[2].tobytes()
    r = _cfar(r_cfar, P, geom, mode, 0.0, lo, lo + n)
    np.testing.assert_array_equal(a[1], r[1])
    np.testing.assert_allclose(a[2], r[2], rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 4.0, 60.0])
def test_cfar_lanes_wide_dynamic_range_same_bits(rng, alpha):
    """The running sums round (values over 60 decades): the lanes keep each segment's
    additions in the scalar order, so Z and the crossings are the same bits."""
    avx = _avx2_or_skip("cfar")
    P = _wide_map(rng, 24, 803)
    for lo, hi in ((0, 803), (13, 790), (100, 101), (40, 700)):
        a = _cfar(c_cfar, P, (4, 2, 8, 2), 0, alpha, lo, hi)
        b = _cfar(avx, P, (4, 2, 8, 2), 0, alpha, lo, hi)
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2].tobytes() == b[2].tobytes()


def test_cfar_lanes_crossings_in_any_lane_and_nonfinite(rng):
    """A single crossing in each segment (lane) and at each of the four steps of a vector
    block is found, in row-major order; NaN cells never cross and inf propagates the same
    way in both builds."""
    avx = _avx2_or_skip("cfar")
    M, Nr, lo, hi = 10, 300, 12, 288          # n = 276: m = 69 (one scalar step left)
    m = (hi - lo) // 4
    for s in range(4):
        for k in range(5):
            P = rng.exponential(1.0, (M, Nr)).astype(np.float32)
            r = lo + s * m + 8 + k
            P[3, r] = 1e4
            a = _cfar(c_cfar, P, (2, 1, 8, 2), 0, 30.0, lo, hi)
            b = _cfar(avx, P, (2, 1, 8, 2), 0, 30.0, lo, hi)
            assert a[0] == b[0] == 1 and a[1][0] == b[1][0] == 3 * Nr + r
            assert a[2].tobytes() == b[2].tobytes()
    P = rng.exponential(1.0, (M, Nr)).astype(np.float32)
    P[2, 100] = np.nan
    P[6, 200] = np.inf
    a = _cfar(c_cfar, P, (2, 1, 8, 2), 0, 0.0, lo, hi)
    b = _cfar(avx, P, (2, 1, 8, 2), 0, 0.0, lo, hi)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])           # NaN == NaN here
    assert 2 * Nr + 100 not in a[1]


@pytest.mark.parametrize("Nd", [8, 10, 14, 22, 30, 128])
def test_weight_block_avx2_every_width(rng, Nd):
    """rdmap.weight_block's vector row (four complex per step) on halves Nd/2 that are
    not multiples of 4: the same bits as the baseline build; the twin (numpy's complex
    multiply, which may contract to FMA) to rounding."""
    base, avx = c_rdmap, _avx2_or_skip("rdmap")
    nb, Ns = 5, 2 * Nd + 6
    F = _cx(rng, nb, Ns)
    F[0, :3] *= 1e20
    H = _cx(rng, Nd)
    w = rng.random(nb).astype(np.float32)
    outs = []
    for mod in (base, avx, r_rdmap):
        o = np.empty((nb, Nd), np.complex64)
        mod.weight_block(F, H, np.ones(1), w, True, o)
        outs.append(o)
    assert outs[0].tobytes() == outs[1].tobytes()
    np.testing.assert_allclose(outs[0][1:], outs[2][1:], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outs[0][0], outs[2][0], rtol=1e-6)


@pytest.mark.parametrize("c_lo,c_hi", [(0, 0), (3, 4), (5, 12), (1, 17), (7, 120), (0, 128)])
def test_square_law_cols_avx2_every_width(rng, c_lo, c_hi):
    """rdmap.square_law_cols / _sub's vector row (eight cells per step) at any start and
    width: the same bits as the baseline build; the subsample as the twin's."""
    base, avx = c_rdmap, _avx2_or_skip("rdmap")
    X = _cx(rng, 16, 136)
    X[2, 9] = 3e19 + 1e19j                      # overflows to inf in float32: same in both
    ps = [np.full((16, 128), -1.0, np.float32) for _ in range(2)]
    base.square_law_cols(X, c_lo, c_hi, ps[0])
    avx.square_law_cols(X, c_lo, c_hi, ps[1])
    assert ps[0].tobytes() == ps[1].tobytes()
    X[2, 9] = 1.0                               # finite for the twin (float64, rounded)
    for mod, p in zip((base, avx), ps):
        mod.square_law_cols(X, c_lo, c_hi, p)
    lo, hi, step = 2, 125, 3
    n = -(-16 // step) * -(-(hi - lo) // step)
    subs = [np.full(n, -1.0, np.float32) for _ in range(3)]
    qs = [np.full((16, 128), -1.0, np.float32) for _ in range(3)]
    for mod, q, s in zip((base, avx, r_rdmap), qs, subs):
        mod.square_law_cols_sub(X, c_lo, c_hi, q, lo, hi, step, s)
    assert qs[0].tobytes() == qs[1].tobytes() == ps[0].tobytes()
    assert subs[0].tobytes() == subs[1].tobytes()
    np.testing.assert_allclose(subs[0], subs[2], rtol=1e-6)
    np.testing.assert_array_equal(subs[0] == -1.0, subs[2] == -1.0)   # same cells filled


@pytest.mark.parametrize("L", [1, 2, 3, 8, 41])
def test_gate_dft_avx2_every_length(rng, L):
    """pulse.gate_dft / gate_dft_channels' vector pairs (two complex per step) for odd and
    tiny filter lengths and windows split by the wrap to column 0 at any parity."""
    avx = _avx2_or_skip("pulse")
    P, Ns = 12, 60
    x = _cx(rng, 3, P, Ns)
    hc = _cx(rng, L, dtype=np.complex128)
    wts = rng.random(P)
    taps = np.ones(1)
    gates = np.array([0, 5, Ns - L, min(Ns - L + 1, Ns - 1), Ns - 1], np.int64)
    bins = np.array([0, 3, 7, 11, 5], np.int64)
    chans = np.array([2, 0, 1], np.int64)
    outs = []
    for mod in (c_pulse, avx):
        o = np.empty(5, complex)
        mod.gate_dft(x[1], hc, taps, wts, gates, bins, P, o)
        o3 = np.empty((3, 5), complex)
        mod.gate_dft_channels(x, chans, hc, taps, wts, gates, bins, P, np.empty(6 * L), o3)
        outs.append((o.tobytes(), o3.tobytes()))
        assert o.tobytes() == o3[2].tobytes()
    assert outs[0] == outs[1]



@pytest.mark.parametrize("taps", [[1.0], [1.0, -1.0], [1.0, -2.0, 1.0]])
def test_block_weights_plan_same_bits(rng, taps):
    """rdmap.BlockWeights.run(k) (pointers taken once) gives the bits of
    weight_block(F[k], H, taps, w[k], reverse[k], out[k]) in both builds and the twin's
    class its own weight_block; bad shapes and block numbers are refused."""
    from xband.reference import rdmap as r
    taps = np.asarray(taps)
    T, Ns, Nd = taps.size, 40, 22
    nbs = [1, 3, 4, 2]
    F = [_cx(rng, nb + T - 1, Ns) for nb in nbs]
    H = _cx(rng, Nd)
    wfull = rng.random(sum(nbs)).astype(np.float32)
    w = [wfull[0:1], wfull[1:4], wfull[4:8], wfull[8:10]]
    rev = [False, True, True, False]
    mods = [c_rdmap, r]
    from xband import _kernels

    if _kernels._cpu_has_avx2():
        try:
            mods.append(__import__("xband._ext.rdmap_avx2", fromlist=["x"]))
        except ImportError:
            pass
    for mod in mods:
        want = [np.full((nb, Nd), 9, np.complex64) for nb in nbs]
        for k in range(4):
            mod.weight_block(F[k], H, taps, w[k], rev[k], want[k])
        out = [np.full((nb, Nd), 7, np.complex64) for nb in nbs]
        plan = mod.BlockWeights(F, H, taps, w, rev, out)
        assert len(plan) == 4
        for k in (2, 0, 3, 1):
            plan.run(k)
        F[1][...] = _cx(rng, *F[1].shape)           # new contents, same buffer: seen
        mod.weight_block(F[1], H, taps, w[1], rev[1], want[1])
        plan.run(1)
        for a, b in zip(out, want):
            assert a.tobytes() == b.tobytes(), mod.__name__
        with pytest.raises(IndexError):
            plan.run(4)
        with pytest.raises(ValueError):
            mod.BlockWeights(F, H, taps, w[:3], rev, out)
        if mod is not r:                # the compiled plan is made once (its C tables)
            with pytest.raises(TypeError, match="already planned"):
                plan.__init__(F, H, taps, w[:3], rev, out)
            plan.run(2)                 # and still runs
        with pytest.raises(ValueError):
            mod.BlockWeights(F, H, taps, w, rev, [np.empty((nb + 1, Nd), np.complex64)
                                                  for nb in nbs])

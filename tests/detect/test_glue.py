"""The chain's per-CPI glue after clustering (ext/cluster.pyx ``peak_cells``,
``peak_estimates``, ``sub_gather``) gives exactly the numbers of the numpy code it replaced:
the compiled kernels equal their twins (xband.reference.cluster, which *is* that code) bit
for bit on random and edge-case inputs, and the whole chain's detections equal the old
numpy glue (copied below) applied to the chain's own power map."""
import numpy as np
import pytest

from xband import _kernels
from xband.detect import estimate
from xband.detect.chain import DetectConfig, DetectionChain
from xband.radar.params import RadarParams
from xband.radar.scene import synthesize
from xband.reference import cluster as r_clu

c_clu = pytest.importorskip("xband._ext.cluster")

pytestmark = pytest.mark.reference_rerun

P_SMALL = dict(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
               pulse_width_s=8e-6, peak_power_w=2e3)


def _peaks(rng, M, Nr, n):
    """n distinct peak cells away from the range edges, some in sidelobe geometry."""
    d = rng.integers(0, M, n)
    r = rng.integers(1, Nr - 1, n)
    d[n // 2:] = d[: n - n // 2]                     # same Doppler bin, near in range …
    r[n // 2:] = np.clip(r[: n - n // 2] + rng.integers(1, 6, n - n // 2), 1, Nr - 2)
    idx = np.unique(d * Nr + r)
    return idx.astype(np.int64)


def _run_cells(mod, power, peak, noise, min_snr, blank, ext=4, psl_r=0.1, psl_d=0.05):
    n = peak.size
    sel, d, r = (np.full(n, -7, np.int64) for _ in range(3))
    snr, nb = np.full(n, -7.0), np.full(6 * n, -7.0, np.float32)
    k = mod.peak_cells(power, peak, noise, min_snr, blank, ext, psl_r, psl_d, sel, d, r, snr,
                       nb)
    return k, sel[:k], d[:k], r[:k], snr[:k], nb[:6 * k]


@pytest.mark.parametrize("blank", [False, True])
@pytest.mark.parametrize("min_snr", [0.0, 3.0])
@pytest.mark.parametrize("M", [3, 16])
def test_peak_cells_identical_to_reference(rng, blank, min_snr, M):
    Nr = 40
    P = rng.exponential(1.0, (M, Nr)).astype(np.float32)
    peak = _peaks(rng, M, Nr, 12)
    P.reshape(-1)[peak] = (rng.exponential(1.0, peak.size) * 30).astype(np.float32)
    P.reshape(-1)[peak[:2]] = 0.0                    # snr clipped at 1e-3
    a = _run_cells(c_clu, P, peak, 1.3, min_snr, blank)
    b = _run_cells(r_clu, P, peak, 1.3, min_snr, blank)
    assert a[0] == b[0]
    for x, y in zip(a[1:], b[1:]):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    if blank and min_snr == 0.0:
        assert a[0] < peak.size                      # the geometry made some sidelobes
    if min_snr:
        assert np.all(a[4] >= min_snr)


def test_peak_cells_edges():
    P = np.ones((4, 10), np.float32)
    P[0, 1], P[3, 8] = 9.0, 4.0
    for mod in (c_clu, r_clu):
        assert _run_cells(mod, P, np.zeros(0, np.int64), 1.0, 0.0, True)[0] == 0
        k, sel, d, r, snr, nb = _run_cells(mod, P, np.array([1, 38], np.int64), 1.0, 0.0, True)
        assert k == 2 and list(d) == [0, 3] and list(r) == [1, 8]
        np.testing.assert_array_equal(snr, [8.0, 3.0])
        # neighbours [6][k]: (d, r−1), (d, r), (d, r+1), (d−1, r) (wraps to M − 1), …
        np.testing.assert_array_equal(nb.reshape(6, 2)[:, 0], [1, 9, 1, 1, 9, 1])
        # noise 0: infinite SNR kept; NaN (0/0) dropped by min_snr like the numpy code
        P0 = P.copy()
        P0[0, 1] = 0.0
        k, *_ , s, _ = _run_cells(mod, P0, np.array([1, 38], np.int64), 0.0, 0.0, False)
        assert k == 1 and np.isinf(s[0])
        with pytest.raises(ValueError, match="shorter"):
            mod.peak_cells(P, np.array([1, 38], np.int64), 1.0, 0.0, True, 4, 0.1, 0.1,
                           *(np.zeros(1, np.int64) for _ in range(3)), np.zeros(1),
                           np.zeros(6, np.float32))


def _run_est(mod, lg, d, r, snr, M, period=150.0, v_min=-75.0):
    k = d.size
    out = np.full((4, k), -7.0)
    mod.peak_estimates(lg, d, r, snr, M, 10e3, -0.5 * 0.03, v_min, period, 14.99, 1.7e-3,
                       6.35e-3, 0.31, 0.002, 0.0343 ** 2, 0.27, 0.003, 14.99 ** 2,
                       1.7e-3 ** 2, out)
    return out


@pytest.mark.parametrize("M", [64, 65, 128])
def test_peak_estimates_identical_to_reference(rng, M):
    k = 400
    y = rng.exponential(1.0, (6, k)).astype(np.float32)
    y[1] = y[4] = np.maximum(y[1], np.maximum(y[0], y[2])) * 3   # mostly true peaks
    y[:, :40] = rng.exponential(1.0, (6, 40))                      # den ≥ 0 and |δ| > ½
    y[0, 40:45] = 0.0                                              # ln 0 = −∞
    y[3, 45:50] = np.inf
    y[0, 50:55] = y[1, 50:55] = y[2, 50:55] = 2.0                  # den = 0
    y[5, 55:60] = 1e-30
    with np.errstate(divide="ignore"):
        lg = np.log(y.reshape(-1))
    d = rng.integers(0, M, k).astype(np.int64)
    d[60:70] = [0, M - 1] * 5
    r = rng.integers(1, 4000, k).astype(np.int64)
    snr = 10 ** rng.uniform(-3, 6, k)
    for period, v_min in ((150.0, -75.0), (150.0, 0.0), (37.5, 12.0)):
        with np.errstate(invalid="ignore"):
            a = _run_est(c_clu, lg, d, r, snr, M, period, v_min)
            b = _run_est(r_clu, lg, d, r, snr, M, period, v_min)
        np.testing.assert_array_equal(a, b)
        finite = np.isfinite(a[1])
        assert finite.sum() > k - 20
        assert np.all((a[1][finite] >= v_min) & (a[1][finite] < v_min + period))
    # the old two-step path: estimate.log_parabola on the float32 powers
    dr = estimate.log_parabola(y[0, 60:], y[1, 60:], y[2, 60:])
    ref = (r[60:] + dr) * 14.99
    got = a[0, 60:] + 1.7e-3 * a[1, 60:] + a[1, 60:] * 6.35e-3
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)


def test_log_of_the_gathered_neighbours_is_elementwise(rng):
    """numpy's float32 log gives each element the same bits whatever the array's length
    and the element's position (the chain now takes one log of [6][k] instead of six)."""
    x = rng.exponential(1.0, 4099).astype(np.float32) * 10.0 ** rng.integers(-8, 8, 4099)
    whole = np.log(x)
    for n in (1, 2, 3, 7, 8, 9, 17):
        for off in (0, 1, 5):
            np.testing.assert_array_equal(np.log(x[off:off + n]), whole[off:off + n])


def test_sub_gather_identical_to_reference(rng):
    P = rng.exponential(1.0, (37, 300)).astype(np.float32)
    for lo, hi, step in ((0, 300, 1), (10, 290, 5), (7, 8, 3), (3, 299, 37)):
        outs = []
        for mod in (c_clu, r_clu):
            w = np.full(20000, -1.0, np.float32)
            n = mod.sub_gather(P, lo, hi, step, w)
            outs.append(w[:n].copy())
        np.testing.assert_array_equal(outs[0], P[:, lo:hi][::step, ::step].ravel())
        np.testing.assert_array_equal(outs[1], outs[0])
    for mod in (c_clu, r_clu):
        with pytest.raises(ValueError, match="work holds"):
            mod.sub_gather(P, 0, 300, 1, np.zeros(10, np.float32))
        with pytest.raises(ValueError, match="bad window"):
            mod.sub_gather(P, 20, 10, 1, np.zeros(1000, np.float32))


def _old_glue(chain, power):
    """The numpy glue of DetectionChain.process before it moved into kernels (verbatim)."""
    p = chain.params
    idx, Z = chain.cfar.detect(power, chain.gate_lo, chain.gate_hi)
    n = idx.size
    label, peak, size = (np.empty(n, np.int64) for _ in range(3))
    cen = np.empty((n, 3))
    nc = _kernels.get("cluster").cluster_peaks(power, idx, label, peak, size, cen)
    peak = peak[:nc]
    sub = power[:, chain.gate_lo:chain.gate_hi]
    step = max(1, int(np.sqrt(sub.size / 16384)))
    s = sub[::step, ::step].ravel()
    noise = float(np.partition(s, s.size // 2)[s.size // 2]) / np.log(2.0)
    d, r = np.divmod(peak, chain.Nd)
    pw0 = power[d, r].astype(np.float64)
    snr = np.maximum(pw0 / noise - 1.0, 1e-3)
    keep = snr >= chain.config.min_snr
    if chain.config.sidelobe_blanking and keep.sum() > 1:
        keep &= ~chain._sidelobes(d, r, pw0)
    d, r, snr = d[keep], r[keep], snr[keep]
    M = chain.M
    dr = estimate.log_parabola(power[d, r - 1], power[d, r], power[d, r + 1])
    dd = estimate.log_parabola(power[(d - 1) % M, r], power[d, r], power[(d + 1) % M, r])
    f = (d + dd - M / 2) * p.prf_hz / M
    rr = -0.5 * p.wavelength_m * f
    rr = chain.v_min + np.mod(rr - chain.v_min, 2.0 * p.unambiguous_velocity_mps)
    rng_mid = (r + dr) * chain.gate_m - chain.couple * rr
    rng_t = rng_mid - rr * chain.t_mid
    var_v = (chain.kd / snr + chain.bd) * chain.vbin ** 2
    var_r = (chain.kr / snr + chain.br) * chain.gate_m ** 2 + chain.couple ** 2 * var_v
    return noise, d, r, snr, rng_t, rr, var_r, var_v, size[:nc][keep]


@pytest.mark.parametrize("window,mti,v_min", [("none", 0, None), ("taylor", 2, 0.0)])
def test_chain_glue_bit_identical_to_numpy(rng, backend, window, mti, v_min):
    p = RadarParams(**{**P_SMALL, "peak_power_w": 2e4})
    chain = DetectionChain(p, DetectConfig(range_window=window, mti_order=mti,
                                           v_min_mps=v_min, min_snr=2.0))
    u = np.array([0.3, 0.9, 0.1])
    u /= np.linalg.norm(u)
    R = np.array([2000.0, 2150.0, 3200.0, 4400.0, 4411.0])
    pos = R[:, None] * u
    vel = np.array([-60.0, -60.0, 30.0, 140.0, -200.0])[:, None] * u
    pt = (np.arctan2(u[0], u[1]), np.arcsin(u[2]))
    cube = synthesize(p, 0.25, pos, vel, [1.0, 0.01, 1.0, 50.0, 0.3], rng, pointing=pt)
    for v0 in (None, 100.0):                # the second run reuses the buffers, and moves
        if v0 is not None:                  # the velocity window (IQSensor's slaved gate)
            chain.v_min = v0
        out = chain.process(cube, pt)
        noise, d, r, snr, rng_t, rr, var_r, var_v, size = _old_glue(chain, out.power)
        det = out.detections
        assert det.range.size >= 3
        assert out.extra["clusters"] > det.range.size        # sidelobes were blanked
        assert out.noise == noise
        for a, b in ((out.extra["d"], d), (out.extra["r"], r), (det.snr, snr),
                     (det.range, rng_t), (det.range_rate, rr), (det.R[:, 0, 0], var_r),
                     (det.R[:, 3, 3], var_v), (out.extra["size"], size)):
            np.testing.assert_array_equal(a, b)


def test_cube_read_in_place_same_bits(rng):
    """The scene's cubes are 64-byte aligned and the chain's forward FFTs then read the sum
    channel in place (no copy): the same map and detections as from an unaligned copy of
    the same cube (copied block by block as before), the cube itself left unchanged, and
    switching between the two kinds of input in either order changes nothing."""
    from xband.radar.scene import aligned_empty
    from xband.types import Cube

    assert aligned_empty((3, 5, 7)).ctypes.data % 64 == 0
    p = RadarParams(**{**P_SMALL, "peak_power_w": 2e4})
    chain = DetectionChain(p, DetectConfig(range_window="taylor"))
    u = np.array([0.3, 0.9, 0.1]) / np.linalg.norm([0.3, 0.9, 0.1])
    pt = (np.arctan2(u[0], u[1]), np.arcsin(u[2]))
    cube = synthesize(p, 0.0, np.array([2500.0, 4000.0])[:, None] * u,
                      np.array([-50.0, 80.0])[:, None] * u, [1.0, 1.0], rng, pointing=pt)
    assert cube.data.ctypes.data % 64 == 0
    raw = np.empty(cube.data.size * 8 + 128, np.uint8)          # 8 bytes off alignment
    off = (8 - raw.ctypes.data) % 64
    un = raw[off:off + cube.data.size * 8].view(np.complex64).reshape(cube.data.shape)
    un[...] = cube.data
    assert un.ctypes.data % 32 != 0
    before = cube.data.copy()
    outs = [chain.process(c, pt) for c in (Cube(un, 0.0, cube.channels), cube,
                                           Cube(un, 0.0, cube.channels), cube)]
    if chain._blk is not None:
        assert chain._reads_in_place(cube.data[0]) and not chain._reads_in_place(un[0])
    np.testing.assert_array_equal(cube.data, before)
    for o in outs[1:]:
        np.testing.assert_array_equal(o.power, outs[0].power)
        for f in ("range", "az", "el", "range_rate", "snr", "R"):
            np.testing.assert_array_equal(getattr(o.detections, f),
                                          getattr(outs[0].detections, f))
    assert outs[0].detections.range.size >= 2


@pytest.mark.parametrize("stem", ["rdmap", "rdmap_avx2"])
def test_square_law_cols_sub_gathers_the_subsample(rng, stem):
    """Blocks of columns covering [lo, hi) fill the noise subsample
    out[:, lo:hi][::step, ::step] in row-major order, as the twin does; |·|² as
    ``square_law_cols``."""
    import importlib

    from xband import _kernels
    from xband.reference import rdmap as r_rd
    if stem.endswith("_avx2") and not _kernels._cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    try:
        mod = importlib.import_module(f"xband._ext.{stem}")
    except ImportError:
        pytest.skip(f"{stem} not built")
    M, N = 13, 90
    X = (rng.standard_normal((M + 2, N)) + 1j * rng.standard_normal((M + 2, N))).astype(
        np.complex64)
    for lo, hi, step, cuts in ((7, 80, 3, (2, 30, 31, 55, 88)), (0, 90, 1, (0, 90)),
                               (10, 11, 4, (5, 12)), (5, 85, 5, (5, 40, 85))):
        res = []
        for m in (mod, r_rd):
            out = np.zeros((M, N), np.float32)
            ref = np.zeros((M, N), np.float32)
            n = -(-M // step) * -(-(hi - lo) // step)
            sub = np.full(n + 3, -1.0, np.float32)
            for c0, c1 in zip(cuts[:-1], cuts[1:]):
                m.square_law_cols_sub(X, c0, c1, out, lo, hi, step, sub)
                m.square_law_cols(X, c0, c1, ref)
            np.testing.assert_array_equal(out, ref)
            np.testing.assert_array_equal(sub[:n], out[:, lo:hi][::step, ::step].ravel())
            assert np.all(sub[n:] == -1.0)
            res.append(out)
        np.testing.assert_allclose(res[0], res[1], rtol=1e-6)
        with pytest.raises(ValueError, match="sub holds"):
            mod.square_law_cols_sub(X, 0, N, out, 0, N, 1, np.zeros(5, np.float32))


@pytest.mark.parametrize("case", ["exponential", "ties_zeros_inf", "negative", "few_gates"])
def test_noise_level_is_the_float_median_of_the_subsample(rng, case):
    """noise_level = the element of rank size//2 of the documented subsample / ln 2, bit for
    bit as np.partition on the float32 values gives it (the chain selects on the uint32 bit
    patterns when no value is negative, and falls back to the float selection otherwise)."""
    p = RadarParams(**P_SMALL)
    chain = DetectionChain(p)
    P, lo, hi = p.pulses_per_cpi, chain.gate_lo, chain.gate_hi
    power = rng.exponential(1.0, (P, hi + 3)).astype(np.float32)
    if case == "ties_zeros_inf":
        power = np.round(power * 4).astype(np.float32)      # many equal values, zeros
        power[::3, ::5] = np.inf
        power[1, lo:hi] = np.nan                             # NaN sorts last in both
    elif case == "negative":
        power[::2] -= 1.5                                    # half the rows below zero
        power[3, lo] = -0.0
    elif case == "few_gates":
        power = power[:4].copy()
    step = max(1, int(np.sqrt(power.shape[0] * (hi - lo) / 16384)))
    sub = power[:, lo:hi][::step, ::step].ravel().copy()
    want = np.float32(np.partition(sub, sub.size // 2)[sub.size // 2]).item() / np.log(2.0)
    got = chain.noise_level(power)
    assert np.isfinite(got) and got == want
    if case == "exponential":                                # median of Exp(1) is ln 2
        assert got == pytest.approx(1.0, rel=0.05)

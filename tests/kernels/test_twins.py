"""The compiled kernels are identical to their numpy references (up to round-off) on
random and edge-case inputs, for several batch sizes."""
import numpy as np
import pytest

from xband._ext import coords as c_coords
from xband._ext import kalman as c_kal
from xband.reference import coords as r_coords
from xband.reference import kalman as r_kal

pytestmark = pytest.mark.reference_rerun
SIZES = [0, 1, 7, 64]


def spd(rng, n, d, scale=1.0):
    A = rng.normal(size=(n, d, d))
    return np.ascontiguousarray(scale * (A @ A.transpose(0, 2, 1) + d * np.eye(d)))


def states(rng, n, d=6):
    x = np.empty((n, d))
    x[:, 0:3] = rng.uniform(-2e4, 2e4, (n, 3))
    x[:, 3:6] = rng.uniform(-400, 400, (n, 3))
    if d > 6:
        x[:, 6:] = rng.normal(size=(n, d - 6))
    return x


@pytest.mark.parametrize("n", SIZES)
def test_coords(rng, n):
    pos, vel = rng.normal(size=(n, 3)) * 1e4, rng.normal(size=(n, 3)) * 300
    if n:
        pos[0] = 0.0                      # the origin: defined as zeros
    a, b = np.empty((n, 4)), np.empty((n, 4))
    c_coords.cart_to_sph(pos, vel, a)
    r_coords.cart_to_sph(pos, vel, b)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-9)
    c6, r6 = np.empty((n, 6)), np.empty((n, 6))
    c_coords.sph_to_cart(a, c6)
    r_coords.sph_to_cart(a, r6)
    np.testing.assert_allclose(c6, r6, rtol=1e-13, atol=1e-9)
    np.testing.assert_allclose(c6[1:, :3], pos[1:], rtol=1e-9, atol=1e-6)   # round trip


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [2, 6, 7, 9])
def test_kf_predict_update(rng, n, d):
    x, P = states(rng, n, d) if d >= 6 else rng.normal(size=(n, d)), spd(rng, n, d, 10.0)
    F = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    Q = spd(rng, 1, d, 0.01)[0]
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    c_kal.kf_predict(x1, P1, F, Q)
    r_kal.kf_predict(x2, P2, F, Q)
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(P1, P2, rtol=1e-12, atol=1e-9)
    m = min(d, 3)
    H = rng.normal(size=(m, d))
    z = rng.normal(size=(n, m)) * 10
    R = spd(rng, n, m)
    if n > 3:
        z[1, 0] = np.nan                   # non-finite measurement → skipped
        R[2, 0, 0] = -1e6                  # indefinite S → skipped
        R[2] = R[2] + R[2].T
    nis1, nis2, ll1, ll2 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    s1, s2 = np.empty(n, np.int8), np.empty(n, np.int8)
    before, Pb = x1.copy(), P1.copy()
    c_kal.kf_update(x1, P1, z, H, R, nis1, ll1, s1)
    r_kal.kf_update(x2, P2, z, H, R, nis2, ll2, s2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(ll1, ll2, rtol=1e-9, atol=1e-9)
    ok = np.flatnonzero(s1 == 0)
    if ok.size:                            # the log-likelihood is that of N(y; 0, S)
        from scipy.stats import multivariate_normal
        i = ok[0]
        S = H @ Pb[i] @ H.T + R[i]
        want = multivariate_normal(np.zeros(m), S).logpdf(z[i] - H @ before[i])
        np.testing.assert_allclose(ll1[i], want, rtol=1e-9)
    np.testing.assert_allclose(x1, x2, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(P1, P2, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(nis1, nis2, rtol=1e-9)
    if n > 3:
        assert s1[1] == r_kal.SKIP_NONFINITE and np.array_equal(x1[1], before[1])
        assert s1[2] == r_kal.SKIP_SINGULAR and np.array_equal(x1[2], before[2])
    np.testing.assert_array_equal(P1, np.swapaxes(P1, 1, 2))        # exactly symmetric


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [3, 6, 7, 9, 12])
@pytest.mark.parametrize("perm", [(0, 1, 2), (1, 0, 2), (0, 1), (0, 1, 2, 3)])
def test_kf_update_selection(rng, n, d, perm):
    """Selection H (position-only, rows of the identity): the compiled kernel's unrolled
    paths (m = 3 position-first with d = 6 at compile time, and the general selection
    path) against the numpy twin, and the position-first path against the same update
    with its measurement rows permuted (a different compiled path, the same estimate)."""
    m = len(perm)
    if max(perm) >= d:
        pytest.skip("selection beyond the state")
    x, P = (states(rng, n, d) if d >= 6 else rng.normal(size=(n, d)) * 100), spd(rng, n, d, 10.0)
    H = np.zeros((m, d))
    H[np.arange(m), perm] = 1.0
    z = (x[:, list(perm)] + rng.normal(size=(n, m)) * 10) if n else np.empty((0, m))
    R = spd(rng, n, m)
    if n > 5:
        z[1, m - 1] = np.inf               # non-finite measurement → skipped
        R[2, 1, 0] = np.nan                # non-finite R off the diagonal → skipped
        for row, a in ((3, 0), (4, m - 1), (5, min(1, m - 1))):   # S not PD at pivot a
            R[row, a, a] = -P[row, perm[a], perm[a]] - 1e3
    outs = []
    for k in (c_kal, r_kal):
        xx, PP = x.copy(), P.copy()
        nis, ll, st = np.empty(n), np.empty(n), np.empty(n, np.int8)
        k.kf_update(xx, PP, z, H, R, nis, ll, st)
        outs.append((xx, PP, nis, ll, st))
    (x1, P1, nis1, ll1, s1), (x2, P2, nis2, ll2, s2) = outs
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(x1, x2, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(P1, P2, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(nis1, nis2, rtol=1e-9)
    np.testing.assert_allclose(ll1, ll2, rtol=1e-9)
    np.testing.assert_array_equal(P1, np.swapaxes(P1, 1, 2))
    if n > 5:
        assert list(s1[1:6]) == [r_kal.SKIP_NONFINITE] * 2 + [r_kal.SKIP_SINGULAR] * 3
        np.testing.assert_array_equal(x1[1:6], x[1:6])
        np.testing.assert_array_equal(P1[1:6], P[1:6])
        assert np.all(np.isnan(nis1[1:6])) and np.all(np.isnan(ll1[1:6]))
    if perm == (0, 1, 2) and n:            # rows permuted: the general selection path
        q = [1, 2, 0]
        xx, PP = x.copy(), P.copy()
        nis, ll, st = np.empty(n), np.empty(n), np.empty(n, np.int8)
        c_kal.kf_update(xx, PP, np.ascontiguousarray(z[:, q]), np.ascontiguousarray(H[q]),
                        np.ascontiguousarray(R[:, q][:, :, q]), nis, ll, st)
        np.testing.assert_array_equal(st, s1)
        np.testing.assert_allclose(xx, x1, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(PP, P1, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(nis, nis1, rtol=1e-10)


def _step_is_predict_update(x, P, F, Q, z, H, R):
    """Compiled kf_step on copies of (x, P) equals kf_predict then kf_update to the bit (NaN
    where a row is skipped); returns the latter's x, P, nis, loglik, status."""
    n = x.shape[0]
    x1, P1 = x.copy(), P.copy()
    nis1, ll1, s1 = np.empty(n), np.empty(n), np.empty(n, np.int8)
    c_kal.kf_predict(x1, P1, F, Q)
    c_kal.kf_update(x1, P1, z, H, R, nis1, ll1, s1)
    x2, P2 = x.copy(), P.copy()
    nis2, ll2, s2 = c_kal.kf_step(x2, P2, F, Q, z, H, R, None, None, None)
    assert nis2.shape == ll2.shape == s2.shape == (n,) and s2.dtype == np.int8
    for a, b in ((x1, x2), (P1, P2), (nis1, nis2), (ll1, ll2), (s1, s2)):
        np.testing.assert_array_equal(a, b)
    return x1, P1, nis1, ll1, s1


def _step_case(rng, n, d, kind):
    """x, P, F, Q, z, H, R for kf_step: H a position-first selection (the fixed-size
    path for d = 6, 7, 9), a permuted selection, or a general matrix; rows 1..3 (n > 5)
    are skipped: a non-finite z, a non-finite R, an indefinite S."""
    x, P = (states(rng, n, d) if d >= 6 else rng.normal(size=(n, d)) * 100), spd(rng, n, d, 10.0)
    F = np.eye(d) + 0.1 * rng.normal(size=(d, d))
    F[rng.random((d, d)) < 0.3] = 0.0      # sparse F, as the CV/CA models
    Q = spd(rng, 1, d, 0.01)[0]
    m = min(d, 3)
    if kind == "general":
        H = rng.normal(size=(m, d))
    else:
        H = np.zeros((m, d))
        H[np.arange(m), np.arange(m) if kind == "pos" else np.arange(m)[::-1]] = 1.0
    z = rng.normal(size=(n, m)) * 10 + (x[:, :m] if kind != "general" else 0.0)
    R = spd(rng, n, m)
    if n > 5:
        z[1, 0] = np.nan
        R[2, 0, m - 1] = np.inf
        R[3, 0, 0] = -1e9                  # S not positive definite
    return x, P, F, Q, z, H, R


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [2, 6, 7, 9, 12])
@pytest.mark.parametrize("kind", ["pos", "sel", "general"])
def test_kf_step(rng, n, d, kind):
    """kf_step is kf_predict then kf_update: bit-identical on the compiled side (the same
    inner routines through numpy's C API instead of memoryviews, with and without the GIL
    released: n = 64), and equal to the numpy twin's kf_step up to round-off."""
    x, P, F, Q, z, H, R = _step_case(rng, n, d, kind)
    x1, P1, nis1, ll1, s1 = _step_is_predict_update(x, P, F, Q, z, H, R)
    out = np.empty(n), np.empty(n), np.empty(n, np.int8)     # caller's outputs
    x3, P3 = x.copy(), P.copy()
    got = r_kal.kf_step(x3, P3, F, Q, z, H, R, *out)
    assert all(g is o for g, o in zip(got, out))
    np.testing.assert_array_equal(out[2], s1)
    np.testing.assert_allclose(x3, x1, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(P3, P1, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(out[0], nis1, rtol=1e-9)
    np.testing.assert_allclose(out[1], ll1, rtol=1e-9)
    if n > 5:
        assert list(s1[1:4]) == [r_kal.SKIP_NONFINITE] * 2 + [r_kal.SKIP_SINGULAR]
        assert np.all(s1[4:] == r_kal.UPDATED)


def _step_args(rng):
    x, P, F, Q, z, H, R = _step_case(rng, 2, 6, "pos")
    return dict(x=x, P=P, F=F, Q=Q, z=z, H=H, R=R, nis=np.empty(2), loglik=np.empty(2),
                status=np.empty(2, np.int8))


@pytest.mark.parametrize("name, bad, msg", [
    ("x", [[0.0] * 6] * 2, "x: expected a numpy array"),
    ("x", np.zeros((2, 6), np.float32), "x: expected dtype"),
    ("x", np.zeros((2, 13)), "x: state dimension"),
    ("x", np.zeros((2, 12))[:, ::2], "x: expected a C-contiguous"),
    ("P", np.zeros((2, 6, 5)), "P: expected shape"),
    ("P", np.zeros((1, 6, 6)), "P: expected shape"),
    ("F", np.eye(6)[None], "F: expected 2 axes"),
    ("Q", np.eye(5), "Q: expected shape"),
    ("z", np.zeros((2, 5)), "z: expected shape"),
    ("z", np.zeros((3, 3)), "z: expected shape"),
    ("H", np.zeros((3, 5)), "H: expected shape"),
    ("R", np.eye(3), "R: expected 3 axes"),
    ("R", np.zeros((2, 3, 2)), "R: expected shape"),
    ("nis", np.empty(3), "nis: expected shape"),
    ("loglik", np.empty(2, np.int64), "loglik: expected dtype"),
    ("status", np.empty(2), "status: expected dtype"),
])
def test_kf_step_rejects(rng, name, bad, msg):
    """The compiled kf_step names a bad argument and writes nothing (x, P untouched)."""
    args = _step_args(rng)
    args[name] = bad
    x0, P0 = args["x"].copy(), args["P"].copy()
    with pytest.raises((TypeError, ValueError), match=msg):
        c_kal.kf_step(*args.values())
    if name not in ("x", "P"):
        np.testing.assert_array_equal(args["x"], x0)
        np.testing.assert_array_equal(args["P"], P0)


def test_kf_step_rejects_read_only(rng):
    for name in ("x", "P", "nis"):
        args = _step_args(rng)
        args[name].flags.writeable = False
        with pytest.raises(ValueError, match=f"{name}: expected a writable"):
            c_kal.kf_step(*args.values())


def sph_meas(rng, x, k):
    z = np.empty((k, 4))
    out = np.empty((x.shape[0], 4))
    r_coords.cart_to_sph(np.ascontiguousarray(x[:, :3]), np.ascontiguousarray(x[:, 3:6]), out)
    z[:] = out[:k] + rng.normal(size=(k, 4)) * [20, 2e-3, 2e-3, 2]
    R = np.broadcast_to(np.diag([400, 4e-6, 4e-6, 4.0]), (k, 4, 4)).copy()
    return z, R


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [6, 9])
def test_ekf_update_sph(rng, n, d):
    x, P = states(rng, n, d), spd(rng, n, d, 100.0)
    z, R = sph_meas(rng, x, n)
    if n > 4:
        z[1, 1:3] = np.nan                 # sum-only: range and range rate only
        z[2, :] = np.nan                   # nothing usable
        z[3, 1] += 2 * np.pi - 1e-3        # azimuth across the ±π seam
        R[4, 3, 3] = np.inf
    idx = rng.permutation(n).astype(np.int64)
    zz, RR = z[idx], R[idx]                              # z[k] belongs to x[idx[k]]
    zz, RR = np.ascontiguousarray(zz), np.ascontiguousarray(RR)
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    nis1, nis2, ll1, ll2 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    s1, s2 = np.empty(n, np.int8), np.empty(n, np.int8)
    c_kal.ekf_update_sph(x1, P1, idx, zz, RR, nis1, ll1, s1)
    r_kal.ekf_update_sph(x2, P2, idx, zz, RR, nis2, ll2, s2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(ll1, ll2, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(x1, x2, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(P1, P2, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(nis1, nis2, rtol=1e-8)
    if n > 4:
        k2 = int(np.flatnonzero(idx == 2)[0])
        assert s1[k2] == r_kal.SKIP_NONFINITE and np.array_equal(x1[2], x[2])
        k3 = int(np.flatnonzero(idx == 3)[0])
        assert nis1[k3] < 100                # the wrapped innovation is small


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("params", [(1.0, 2.0, 0.0), (0.5, 2.0, 1.0)])
def test_ukf_update_sph(rng, n, params):
    x, P = states(rng, n, 6), spd(rng, n, 6, 100.0)
    z, R = sph_meas(rng, x, n)
    if n > 4:
        z[1, 1:3] = np.nan
        z[2, :] = np.nan
        z[3, 1] += 2 * np.pi - 1e-3
        P[4] = -P[4]                       # not positive definite: no sigma points
    idx = np.arange(n, dtype=np.int64)
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    out = [(np.empty(n), np.empty(n), np.empty(n, np.int8)) for _ in range(2)]
    c_kal.ukf_update_sph(x1, P1, idx, z, R, *params, *out[0])
    r_kal.ukf_update_sph(x2, P2, idx, z, R, *params, *out[1])
    np.testing.assert_array_equal(out[0][2], out[1][2])
    np.testing.assert_allclose(x1, x2, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(P1, P2, rtol=1e-8, atol=1e-6)
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-8)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-8, atol=1e-8)
    if n > 4:
        assert list(out[0][2][[2, 4]]) == [r_kal.SKIP_NONFINITE, r_kal.SKIP_SINGULAR]
        assert out[0][0][3] < 100


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("omega_scale", [0.0, 1e-7, 0.3])
def test_ct_predict(rng, n, omega_scale):
    x = np.empty((n, 7))
    x[:, :6] = states(rng, n)
    x[:, 6] = rng.normal(size=n) * omega_scale          # 0, series branch, trig branch
    P = spd(rng, n, 7, 10.0)
    Q = spd(rng, 1, 7, 0.01)[0]
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    c_kal.ct_predict(x1, P1, 0.1, Q)
    r_kal.ct_predict(x2, P2, 0.1, Q)
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(P1, P2, rtol=1e-11, atol=1e-9)
    if n:                                  # the Jacobian matches finite differences
        xo, F = r_kal.ct_transition(x[0], 0.1)
        J = np.empty((7, 7))
        for j in range(7):
            e = np.zeros(7)
            e[j] = 1e-6 * max(1.0, abs(x[0, j]))
            J[:, j] = (r_kal.ct_transition(x[0] + e, 0.1)[0]
                       - r_kal.ct_transition(x[0] - e, 0.1)[0]) / (2 * e[j])
        np.testing.assert_allclose(F, J, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", SIZES)
def test_sph_gate(rng, n):
    x, P = states(rng, n), spd(rng, n, 6, 100.0)
    z, R = sph_meas(rng, x, n)
    if n > 2:
        z[0, :] = np.nan
    a, b, la, lb = np.empty((n, n)), np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    c_kal.sph_gate(x, P, z, R, np.full(n, np.inf), a, la)
    r_kal.sph_gate(x, P, z, R, np.full(n, np.inf), b, lb)
    np.testing.assert_allclose(a, b, rtol=1e-8)
    np.testing.assert_allclose(la, lb, rtol=1e-8, atol=1e-8)
    if n:                                  # with a gate: the same pairs survive, same values
        g = np.full(n, np.nanmedian(np.where(np.isfinite(a), a, np.nan)) if np.isfinite(a).any()
                    else 1.0)
        c_kal.sph_gate(x, P, z, R, g, a, la)
        r_kal.sph_gate(x, P, z, R, g, b, lb)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        np.testing.assert_allclose(a, b, rtol=1e-8)
        assert np.all(a[np.isfinite(a)] <= g[0])
    if n > 2:
        assert np.all(np.isinf(a[:, 0]))


def test_sph_gate_many_detections(rng):
    """More detections than one block of the compiled kernel (GATE_BLOCK = 256), with a
    gate: identical pairs and values."""
    n, k = 9, 700
    x, P = states(rng, n), spd(rng, n, 6, 100.0)
    z, R = sph_meas(rng, x[rng.integers(0, n, k)], k)
    z[::7, 1:3] = np.nan                   # sum-only detections
    z[5] = np.nan
    g = rng.uniform(5.0, 30.0, k)
    a, b, la, lb = np.empty((n, k)), np.empty((n, k)), np.empty((n, k)), np.empty((n, k))
    c_kal.sph_gate(x, P, z, R, g, a, la)
    r_kal.sph_gate(x, P, z, R, g, b, lb)
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    assert np.isfinite(a).sum() > k // 4
    np.testing.assert_allclose(a, b, rtol=1e-8)
    np.testing.assert_allclose(la, lb, rtol=1e-8, atol=1e-8)


def _sorted(v, ok):
    u = np.flatnonzero(np.isfinite(v) & ok)
    u = u[np.argsort(v[u], kind="stable")]
    return np.concatenate([u, np.setdiff1d(np.arange(v.size), u)]).astype(np.int64), u.size


def _pairs(k_mod, x, P, z, R, g, cap):
    order, nr = _sorted(z[:, 0], np.isfinite(R[:, 0, 0]))
    with np.errstate(invalid="ignore"):
        order_az, na = _sorted(z[:, 1], np.isfinite(R[:, 1, 1]) & (np.abs(z[:, 1]) <= np.pi))
    ti, dj = np.full(cap, -1, np.int64), np.full(cap, -1, np.int64)
    nis, ll = np.full(cap, np.nan), np.full(cap, np.nan)
    cnt = k_mod.sph_gate_pairs(x, P, z, R, g, order, nr, order_az, na, ti, dj, nis, ll)
    c = min(cnt, cap)
    o = np.lexsort((dj[:c], ti[:c]))
    return cnt, ti[:c][o], dj[:c][o], nis[:c][o], ll[:c][o], ti[c:]


@pytest.mark.parametrize("n,k", [(0, 5), (4, 0), (1, 1), (9, 700), (60, 40), (300, 300)])
@pytest.mark.parametrize("gate_kind", ["chi2", "inf", "tight"])
def test_sph_gate_pairs(rng, n, k, gate_kind):
    """The sparse gate (range-window pre-gate) finds exactly the finite cells of the dense
    sph_gate, with bit-identical NIS and log-likelihoods in the compiled kernel; the
    numpy twin agrees; too small buffers report the count and overflow nothing."""
    x, P = states(rng, n), spd(rng, n, 6, 100.0)
    src = x[rng.integers(0, n, k)] if n else states(rng, k)
    z, R = sph_meas(rng, src, k)
    if k > 20:
        z[::7, 1:3] = np.nan               # sum-only detections
        z[5] = np.nan                      # nothing usable
        z[6, 0] = np.nan                   # no range: tried with every track
        R[8, 0, 0] = np.inf                # unusable range variance
        z[9, 0] = z[10, 0]                 # equal ranges
        R[11] *= 1e6                       # a wide detection (widens the window)
        z[12, 1] = z[12, 1] + 2 * np.pi    # azimuth outside [−π, π]: tried with every track
        R[13, 1, 1] = np.nan               # unusable azimuth variance
        z[14:17, 1] = [np.pi, -np.pi, np.pi - 1e-7]   # azimuths at the seam
    if n > 3 and k > 20:                   # tracks just across the ±π seam from them
        for i, az in ((1, np.pi - 2e-3), (2, -np.pi + 2e-3), (3, -np.pi)):
            rho = np.hypot(x[i, 0], x[i, 1])
            x[i, 0], x[i, 1] = rho * np.sin(az), rho * np.cos(az)
            z[14 + i - 1, [0, 2]] = np.hypot(rho, x[i, 2]), np.arctan2(x[i, 2], rho)
    g = {"chi2": rng.uniform(5.0, 30.0, k), "inf": np.full(k, np.inf),
         "tight": np.full(k, 0.5)}[gate_kind]
    dense, dll = np.empty((n, k)), np.empty((n, k))
    c_kal.sph_gate(x, P, z, R, g, dense, dll)
    want_t, want_d = np.nonzero(np.isfinite(dense))
    # the numpy twin evaluates every pair in Python: compared up to 10 000 pairs
    for mod in (c_kal, r_kal) if n * k <= 10_000 else (c_kal,):
        cnt, ti, dj, nis, ll, rest = _pairs(mod, x, P, z, R, g, n * k + 1)
        assert cnt == want_t.size
        np.testing.assert_array_equal(ti, want_t)
        np.testing.assert_array_equal(dj, want_d)
        if mod is c_kal:
            np.testing.assert_array_equal(nis, dense[want_t, want_d])
            np.testing.assert_array_equal(ll, dll[want_t, want_d])
        else:
            np.testing.assert_allclose(nis, dense[want_t, want_d], rtol=1e-8)
            np.testing.assert_allclose(ll, dll[want_t, want_d], rtol=1e-8, atol=1e-8)
        assert np.all(rest == -1)
        if cnt > 2:                        # short buffers: the count, nothing past them
            cnt2, ti2, *_ = _pairs(mod, x, P, z, R, g, 2)
            assert cnt2 == cnt and ti2.size == 2
    if gate_kind == "chi2" and n * k > 1000:
        assert 0 < want_t.size < n * k // 4                # the window prunes something


# The guidance and engage twins are compared in tests/guide/test_guide_twins.py.


def _predict_by_nonzeros(x, P, F, Q):
    """kf_predict's arithmetic written out in numpy, one IEEE operation at a time: x ← F x,
    F P and (F P) Fᵀ as sums 0.0 + v·p + … over F's non-zeros in row-major order, then
    P = ½((FPFᵀ + Q) + (FPFᵀ + Q)ᵀ). The compiled kernel (its general path and its
    fixed-structure path for the kinematic F = Φ ⊗ I₃) must give these values to the bit."""
    d = F.shape[0]
    nz = [(i, l, F[i, l]) for i in range(d) for l in range(d) if F[i, l] != 0.0]
    xs = np.zeros_like(x)
    FP = np.zeros_like(P)
    for i, l, v in nz:
        xs[:, i] = xs[:, i] + v * x[:, l]
        FP[:, i, :] = FP[:, i, :] + v * P[:, l, :]
    FPF = np.zeros_like(P)
    for j, l, v in nz:
        FPF[:, :, j] = FPF[:, :, j] + v * FP[:, :, l]
    A = FPF + Q
    return xs, 0.5 * (A + np.swapaxes(A, 1, 2))


@pytest.mark.parametrize("model", ["cv", "ca", "singer", "sparse"])
@pytest.mark.parametrize("sym", [True, False])
def test_kf_predict_kinematic_bits(rng, model, sym):
    """The kinematic transitions (CV, CA, Singer: F = Φ ⊗ I₃, a compile-time-structured
    path) and a general sparse F predict exactly as the sum over F's non-zeros in row
    order (_predict_by_nonzeros): the same bits as the general path, whether P is exactly
    symmetric or not."""
    from xband.track.models import ModelSpec

    if model == "sparse":
        d = 6
        F = np.eye(d) + 0.1 * rng.normal(size=(d, d))
        F[rng.random((d, d)) < 0.4] = 0.0
        Q = spd(rng, 1, d, 0.01)[0]
    else:
        F, Q = ModelSpec(model, q=3.0).linear(0.37)
        d = F.shape[0]
    n = 33
    x = states(rng, n, d)
    P = spd(rng, n, d, 50.0)
    if not sym:
        P += rng.normal(size=P.shape) * 1e-3
    x1, P1 = x.copy(), P.copy()
    c_kal.kf_predict(x1, P1, F, Q)
    x2, P2 = _predict_by_nonzeros(x, P, F, Q)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(P1, P2)
    np.testing.assert_array_equal(P1, np.swapaxes(P1, 1, 2))


@pytest.mark.parametrize("d", [6, 7, 9])
@pytest.mark.parametrize("kinematic", [True, False])
def test_kf_step_chunks(rng, d, kinematic):
    """A large kf_step (its tracks predicted and updated a chunk of 64 at a time) equals
    kf_predict then kf_update over the whole batch to the bit, skipped rows (non-finite z
    or R, indefinite S) spread over several chunks."""
    from xband.track.models import ModelSpec

    n = 150
    x, P, F, Q, z, H, R = _step_case(rng, n, d, "pos")
    if kinematic and d != 7:
        F, Q = ModelSpec("cv" if d == 6 else "ca", q=5.0).linear(0.1)
    for row in (70, 140):
        z[row, 1] = np.nan
        R[row + 1, 2, 2] = -1e9
    x1, P1, nis1, ll1, s1 = _step_is_predict_update(x, P, F, Q, z, H, R)
    assert list(s1[[70, 71, 140, 141]]) == [r_kal.SKIP_NONFINITE, r_kal.SKIP_SINGULAR] * 2

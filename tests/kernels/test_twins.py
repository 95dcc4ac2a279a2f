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
@pytest.mark.parametrize("d", [2, 6, 9])
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


# The guidance and engage twins are compared in tests/guide/test_guide_twins.py.

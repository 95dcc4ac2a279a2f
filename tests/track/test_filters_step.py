"""track.filters.step: predict + update in one call (issue 4, one track per call) —
bit-identical to predict then update, the scalar Kalman filter's closed form, conversions
of what does not fit, and errors that name the argument."""
import numpy as np
import pytest

from xband.errors import InputError
from xband.track import filters
from xband.track.models import cv_matrices

pytestmark = pytest.mark.reference_rerun

H = np.hstack([np.eye(3), np.zeros((3, 3))])


def _tracks(rng, n):
    x = np.hstack([rng.uniform(-2e4, 2e4, (n, 3)), rng.uniform(-300, 300, (n, 3))])
    A = rng.normal(size=(n, 6, 6))
    P = A @ A.transpose(0, 2, 1) + 50 * np.eye(6)
    return x, np.ascontiguousarray(P)


@pytest.mark.parametrize("n", [1, 3, 40])
@pytest.mark.parametrize("general", [False, True])
def test_step_is_predict_then_update(backend, rng, n, general):
    """Same x, P, NIS, log-likelihood and status to the bit as the two calls, for the
    position-only H and a general H, on either kernel backend (n = 40 releases the GIL)."""
    F, Q = cv_matrices(0.05, 10.0)
    Hm = H + (0.01 * rng.normal(size=H.shape) if general else 0.0)
    x, P = _tracks(rng, n)
    z = x[:, :3] + rng.normal(size=(n, 3)) * 5
    R = np.broadcast_to(np.diag([25.0, 16.0, 9.0]), (n, 3, 3)).copy()
    z[n // 2, 1] = np.nan                  # that track is skipped, untouched by the update
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    filters.predict(x1, P1, F, Q)
    want = filters.update(x1, P1, z, Hm, R)
    got = filters.step(x2, P2, F, Q, z, Hm, R)
    for a, b in zip((x1, P1, *want), (x2, P2, *got)):
        np.testing.assert_array_equal(a, b)
    assert got[2].dtype == np.int8 and got[2][n // 2] == filters.SKIP_NONFINITE
    assert np.count_nonzero(got[2] == filters.UPDATED) == n - 1


def test_step_into_out(backend, rng):
    """``out``: the caller's buffers are written and returned (same values); a wrong one
    is named, with nothing written."""
    F, Q = cv_matrices(0.05, 10.0)
    x, P = _tracks(rng, 2)
    z, R = x[:, :3] + 4.0, np.eye(3) * 25.0
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    want = filters.step(x1, P1, F, Q, z, H, R)
    out = (np.full(2, -1.0), np.full(2, -1.0), np.full(2, 9, np.int8))
    got = filters.step(x2, P2, F, Q, z, H, R, out=out)
    assert all(g is o for g, o in zip(got, out))
    for a, b in zip((x1, P1, *want), (x2, P2, *out)):
        np.testing.assert_array_equal(a, b)
    for bad in ((np.empty(2), np.empty(2)), (np.empty(2), np.empty(3), np.empty(2, np.int8)),
                (np.empty(2), np.empty(2), np.empty(2))):
        with pytest.raises(InputError, match="out"):
            filters.step(x2, P2, F, Q, z, H, R, out=bad)
    np.testing.assert_array_equal(x2, x1)


def test_step_scalar_closed_form(backend):
    """d = m = 1, F = 1: P⁻ = P + q, K = P⁻/(P⁻ + r), x⁺ = x + K (z − x), P⁺ = (1 − K) P⁻,
    NIS = (z − x)²/(P⁻ + r), loglik = −½ (NIS + ln 2π(P⁻ + r))."""
    p, q, r, x0, z0 = 4.0, 1.0, 3.0, 2.0, 5.0
    x, P = np.array([[x0]]), np.array([[[p]]])
    nis, ll, st = filters.step(x, P, [[1.0]], [[q]], [[z0]], [[1.0]], [[r]])
    pm = p + q
    k = pm / (pm + r)
    assert st[0] == filters.UPDATED
    np.testing.assert_allclose(x[0, 0], x0 + k * (z0 - x0), rtol=1e-14)
    np.testing.assert_allclose(P[0, 0, 0], (1 - k) * pm, rtol=1e-14)
    np.testing.assert_allclose(nis[0], (z0 - x0) ** 2 / (pm + r), rtol=1e-14)
    np.testing.assert_allclose(ll[0], -0.5 * (nis[0] + np.log(2 * np.pi * (pm + r))),
                               rtol=1e-14)


def test_step_converts_what_does_not_fit(backend, rng):
    """Lists, a shared R (m, m), float32 and Fortran-ordered matrices: converted, with the
    results of the exact arrays."""
    F, Q = cv_matrices(0.1, 5.0)
    x, P = _tracks(rng, 2)
    z = np.round(x[:, :3]) + 3.0           # exact in float32
    R = np.diag([25.0, 16.0, 9.0])
    x1, P1, x2, P2 = x.copy(), P.copy(), x.copy(), P.copy()
    want = filters.step(x1, P1, F, Q, z, H, np.stack([R, R]))
    got = filters.step(x2, P2, np.asfortranarray(F), Q.tolist(), z.astype(np.float32),
                       H.astype(np.float32), R)
    for a, b in zip((x1, P1, *want), (x2, P2, *got)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, bad, msg", [
    ("x", np.zeros((1, 6), np.float32), "x: expected a writable"),
    ("x", np.zeros((1, 13)), "x: state dimension"),
    ("P", np.zeros((1, 6, 5)), "P: expected a writable"),
    ("F", np.eye(5), "F: expected shape"),
    ("Q", np.eye(6)[None], "Q: expected shape"),
    ("z", np.zeros((2, 3)), "z: expected shape"),
    ("z", np.zeros((1, 5)), "z: expected shape"),
    ("H", np.eye(3), "H: expected shape"),
    ("R", np.zeros((2, 2)), "R: expected shape"),
])
def test_step_names_bad_argument(backend, rng, name, bad, msg):
    F, Q = cv_matrices(0.1, 5.0)
    x, P = _tracks(rng, 1)
    args = dict(x=x, P=P, F=F, Q=Q, z=x[:, :3] + 1.0, H=H, R=np.eye(3)[None] * 9.0)
    args[name] = bad
    x0, P0 = x.copy(), P.copy()
    with pytest.raises(InputError, match=msg):
        filters.step(*args.values())
    np.testing.assert_array_equal(x, x0)      # nothing written
    np.testing.assert_array_equal(P, P0)


def test_step_read_only_state(backend, rng):
    F, Q = cv_matrices(0.1, 5.0)
    x, P = _tracks(rng, 1)
    x.flags.writeable = False
    with pytest.raises(InputError, match="x: expected a writable"):
        filters.step(x, P, F, Q, np.zeros((1, 3)), H, np.eye(3)[None])

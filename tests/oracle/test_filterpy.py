"""FilterPy as an oracle: xband's KF and EKF reproduce FilterPy's KalmanFilter and
ExtendedKalmanFilter (both Joseph form) given identical matrices and measurements."""
import numpy as np
import pytest

from xband.radar.measure import sph_of
from xband.reference.kalman import sph_measure, wrap_angle
from xband.track import filters
from xband.track.models import cv_matrices

kalman = pytest.importorskip("filterpy.kalman", reason="the compare extra (FilterPy) is not installed")

pytestmark = pytest.mark.reference_rerun
STEPS = 1000


def test_kf_matches_filterpy(rng, backend):
    F, Q = cv_matrices(0.05, 2.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([4.0, 9.0, 1.0])
    kf = kalman.KalmanFilter(dim_x=6, dim_z=3)
    kf.F, kf.Q, kf.H, kf.R = F, Q, H, R
    kf.x = np.array([10.0, -20.0, 5.0, 3.0, 1.0, -0.5])
    kf.P = np.diag([100.0, 100.0, 100.0, 25.0, 25.0, 25.0])
    x, P = kf.x[None].copy(), kf.P[None].copy()
    truth = kf.x.copy()
    worst_x = worst_P = 0.0
    for _ in range(STEPS):
        truth = F @ truth
        z = truth[:3] + rng.normal(size=3) * np.sqrt(np.diag(R))
        kf.predict()
        kf.update(z)
        filters.predict(x, P, F, Q)
        nis, _, status = filters.update(x, P, z[None], H, R)
        assert status[0] == filters.UPDATED
        worst_x = max(worst_x, np.abs(x[0] - kf.x).max())
        worst_P = max(worst_P, np.abs(P[0] - kf.P).max())
        np.testing.assert_allclose(nis[0], kf.y @ np.linalg.solve(kf.S, kf.y), rtol=1e-9)
    assert worst_x < 1e-9 and worst_P < 1e-9, (worst_x, worst_P)


def test_ekf_spherical_matches_filterpy(rng, backend):
    dt = 0.05
    F, Q = cv_matrices(dt, 5.0)
    R = np.diag([25.0, 1e-6, 1e-6, 1.0])
    ekf = kalman.ExtendedKalmanFilter(dim_x=6, dim_z=4)
    ekf.F, ekf.Q, ekf.R = F, Q, R
    truth = np.array([3000.0, 8000.0, 2000.0, -50.0, -200.0, 0.0])
    ekf.x = truth + np.array([30.0, -30.0, 20.0, 10.0, -10.0, 5.0])
    ekf.P = np.diag([900.0, 900.0, 900.0, 400.0, 400.0, 400.0])
    x, P = ekf.x[None].copy(), ekf.P[None].copy()

    def residual(a, b):
        y = a - b
        y[1] = wrap_angle(y[1])
        return y

    worst_x = worst_P = 0.0
    for _ in range(STEPS):
        truth = F @ truth
        z = sph_of(truth[:3], truth[3:])[0] + rng.normal(size=4) * np.sqrt(np.diag(R))
        ekf.predict()
        ekf.update(z, lambda s: sph_measure(s)[1], lambda s: sph_measure(s)[0],
                   residual=residual)
        filters.predict(x, P, F, Q)
        _, _, status = filters.update_spherical(x, P, [0], z[None], R[None])
        assert status[0] == filters.UPDATED
        worst_x = max(worst_x, np.abs(x[0] - ekf.x).max() / max(1.0, np.abs(ekf.x).max()))
        worst_P = max(worst_P, np.abs(P[0] - ekf.P).max() / max(1.0, np.abs(ekf.P).max()))
    # relative to the magnitudes (positions of km): 1e-9 of the largest entry
    assert worst_x < 1e-9 and worst_P < 1e-9, (worst_x, worst_P)


def test_imm_matches_filterpy(rng, backend):
    """Three CV models of different process noise, linear position measurements: states,
    covariances and mode probabilities equal FilterPy's IMMEstimator over 1,000 steps."""
    from xband.track.imm import IMM
    from xband.track.models import ModelSpec

    dt = 0.1
    qs = [0.1, 10.0, 1000.0]
    Pi = np.array([[0.90, 0.05, 0.05], [0.10, 0.85, 0.05], [0.02, 0.08, 0.90]])
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([25.0, 16.0, 9.0])
    x0 = np.array([1000.0, 2000.0, 500.0, -30.0, 20.0, 0.0])
    P0 = np.diag([400.0, 400.0, 400.0, 100.0, 100.0, 100.0])
    fps = []
    for q in qs:
        kf = kalman.KalmanFilter(dim_x=6, dim_z=3)
        kf.F, kf.Q = cv_matrices(dt, q)
        kf.H, kf.R, kf.x, kf.P = H, R, x0.copy(), P0.copy()
        fps.append(kf)
    mu0 = np.array([0.5, 0.3, 0.2])
    fimm = kalman.IMMEstimator(fps, mu0.copy(), Pi)
    imm = IMM([ModelSpec("cv", q=q) for q in qs], Pi, mu0=mu0)
    imm.add(x0, P0)
    truth = x0.copy()
    worst = np.zeros(3)
    for k in range(STEPS):
        acc = np.array([0.0, 30.0, 0.0]) if 300 <= k < 500 else np.zeros(3)   # a maneuver
        truth[:3] += truth[3:] * dt + 0.5 * acc * dt * dt
        truth[3:] += acc * dt
        z = truth[:3] + rng.normal(size=3) * np.sqrt(np.diag(R))
        fimm.predict()
        fimm.update(z)
        imm.predict(dt)
        st = imm.update_linear(z[None], H, R)
        assert st[0] == 0
        x, P, mu = imm.estimate()
        worst = np.maximum(worst, [np.abs(x[0] - fimm.x).max(), np.abs(P[0] - fimm.P).max(),
                                   np.abs(mu[0] - fimm.mu).max()])
        for j, f in enumerate(fimm.filters):
            worst[0] = max(worst[0], np.abs(imm.xs[j][0] - f.x).max())
    assert np.all(worst < 1e-9), worst
    assert imm.mu[0].argmax() == fimm.mu.argmax()


def test_ukf_spherical_matches_filterpy(rng, backend):
    """Unscented update on spherical measurements equals FilterPy's UnscentedKalmanFilter
    (scaled sigma points, sigma points redrawn from the predicted state as xband does)."""
    from filterpy.kalman import MerweScaledSigmaPoints, UnscentedKalmanFilter

    from xband.reference.kalman import sph_measure

    dt, (a, b, k) = 0.05, (1.0, 2.0, 0.0)
    F, Q = cv_matrices(dt, 5.0)
    R = np.diag([25.0, 1e-6, 1e-6, 1.0])
    pts = MerweScaledSigmaPoints(6, alpha=a, beta=b, kappa=k)
    ukf = UnscentedKalmanFilter(6, 4, dt, hx=lambda s: sph_measure(s)[0],
                                fx=lambda s, dt: F @ s, points=pts)
    ukf.Q, ukf.R = Q, R
    truth = np.array([3000.0, 8000.0, 2000.0, -50.0, -200.0, 0.0])
    ukf.x = truth + np.array([30.0, -30.0, 20.0, 10.0, -10.0, 5.0])
    ukf.P = np.diag([900.0, 900.0, 900.0, 400.0, 400.0, 400.0])
    x, P = ukf.x[None].copy(), ukf.P[None].copy()
    worst = 0.0
    for _ in range(STEPS):
        truth = F @ truth
        z = sph_of(truth[:3], truth[3:])[0] + rng.normal(size=4) * np.sqrt(np.diag(R))
        filters.predict(x, P, F, Q)
        ukf.x, ukf.P = F @ ukf.x, F @ ukf.P @ F.T + Q          # the same linear prediction
        ukf.sigmas_f = pts.sigma_points(ukf.x, ukf.P)           # redrawn, as xband does
        ukf.update(z)
        _, _, st = filters.update_spherical(x, P, [0], z[None], R[None], method="ukf",
                                            ukf_params=(a, b, k))
        assert st[0] == filters.UPDATED
        worst = max(worst, np.abs(x[0] - ukf.x).max() / np.abs(ukf.x).max(),
                    np.abs(P[0] - ukf.P).max() / np.abs(ukf.P).max())
    assert worst < 1e-9, worst

"""The engagement models against closed forms: binomial lag step response (RK4 and
Euler), target maneuvers (step, weave), gravity compensation."""
import math

import numpy as np
import pytest

from xband.errors import ConfigError
from xband.guide.engagement import G0, Guidance, Salvo, lag_matrices

pytestmark = pytest.mark.reference_rerun


def lag_response(order, tau, t):
    """Step response of 1/(1 + sτ/n)^n: 1 − e^{−wt} Σ_{k<n} (wt)^k/k!, w = n/τ."""
    w = order / tau
    return 1 - np.exp(-w * t) * sum((w * t) ** k / math.factorial(k) for k in range(order))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_binomial_lag_step_response(order):
    tau, h, steps = 0.4, 0.002, 500
    res = {}
    for integ in ("rk4", "euler"):
        phi, gam, _ = lag_matrices(tau, order, h, integ)
        s = np.zeros(order + 2)
        for _ in range(steps):
            s = phi @ s + gam * 1.0                     # unit command held
        res[integ] = s[-1]
    exact = lag_response(order, tau, h * steps)
    assert res["rk4"] == pytest.approx(exact, abs=1e-9)
    err_euler = abs(res["euler"] - exact)
    assert 1e-5 < err_euler < 1e-2                      # first order: O(h)
    phi, gam, _ = lag_matrices(tau, order, h / 2, "euler")
    s = np.zeros(order + 2)
    for _ in range(2 * steps):
        s = phi @ s + gam
    assert abs(s[-1] - exact) == pytest.approx(err_euler / 2, rel=0.1)   # halves with h


def test_lag_matrices_reject_bad_input():
    with pytest.raises(ConfigError, match="lag_order"):
        lag_matrices(0.2, 9, 1e-3)
    with pytest.raises(ConfigError, match="lag_order"):
        lag_matrices(0.0, 2, 1e-3)
    with pytest.raises(ConfigError, match="integrator"):
        lag_matrices(0.2, 1, 1e-3, "rk2")
    with pytest.raises(ConfigError, match="guidance_hz"):
        Guidance(plant_hz=1000.0, guidance_hz=300.0)


def _far_target_salvo(g, man, t_vel=(0.0, -300.0, 0.0)):
    """A target 1000 km away (no run ends): the target flies its maneuver undisturbed."""
    return Salvo(g, [0, 0, 0], [0, 900.0, 0], [0, 1e6, 0], t_vel, man)


@pytest.mark.parametrize("integ", ["rk4", "euler"])
def test_target_weave_and_step_trajectories(integ):
    A, w, ph, ts, T = np.array([30.0, 0, 5.0]), 2.0, 0.4, 0.3, 2.0
    for kind in ("weave", "step"):
        g = Guidance(law="tpn", lag=0.2, maneuver=kind, plant_hz=1000.0, guidance_hz=100.0,
                     integrator=integ)
        s = _far_target_salvo(g, np.r_[A, ts, w, ph])
        s.run(int(T * 1000))
        u = T - ts
        if kind == "weave":       # ∫∫ A sin(w τ + φ) from t_s
            dv = A * (math.cos(ph) - math.cos(w * u + ph)) / w
            dp = A * (u * math.cos(ph) / w - (math.sin(w * u + ph) - math.sin(ph)) / w ** 2)
        else:
            dv, dp = A * u, 0.5 * A * u * u
        p = np.array([0, 1e6, 0]) + np.array([0, -300.0, 0]) * T + dp
        tol = 1e-6 if integ == "rk4" else 0.1
        np.testing.assert_allclose(s.T[3:6, 0], [0, -300.0, 0] + dv, atol=tol * 10)
        np.testing.assert_allclose(s.T[0:3, 0], p, atol=tol * 10 if integ == "euler" else 1e-5)


def test_gravity_is_compensated():
    """Head-on, no LOS rate, no lag: guidance holds +g, so the interceptor flies level;
    the same flight with gravity off is identical."""
    z = []
    for grav in (True, False):
        g = Guidance(law="tpn", lag=0.0, gravity=grav, plant_hz=1000.0, guidance_hz=1000.0)
        s = _far_target_salvo(g, None)
        s.run(3000)
        z.append(s.M[0:6, 0].copy())
    np.testing.assert_allclose(z[0], z[1], atol=1e-9)
    assert abs(z[0][2]) < 1e-9 and 0.5 * G0 * 9 > 40        # vs ½ g t² = 44 m uncompensated

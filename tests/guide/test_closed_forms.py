"""Literature checks of the homing loop (Zarchan, *Tactical and Strategic Missile
Guidance*, 6th ed., ch. 2–4, 8): closed forms of zero-lag PN and APN, on the linearized
loop and on the nonlinear 3-D engagement at small angles."""
import numpy as np
import pytest

from xband.guide.adjoint import linear_pn
from xband.guide.engagement import Engagement, Guidance, simulate

VM, HE = 1000.0, 0.01


def he_closed_form(t, t_f, N):
    """n_c(t) = −V_M·HE·N′/t_F·(1 − t/t_F)^(N′−2)."""
    return -VM * HE * N / t_f * (1 - t / t_f) ** (N - 2)


def step_pn(t, t_f, N, n_t):
    return N / (N - 2) * (1 - (1 - t / t_f) ** (N - 2)) * n_t


def step_apn(t, t_f, N, n_t):
    return N / 2 * (1 - t / t_f) ** (N - 2) * n_t


@pytest.mark.parametrize("N", [3.0, 4.0, 5.0])
def test_linear_pn_heading_error(N):
    t_f = 10.0
    r = linear_pn(N, t_f, v_m=VM, he=HE, h=1e-3)
    sel = r["t"] <= 0.99 * t_f
    expect = he_closed_form(r["t"][sel], t_f, N)
    peak = VM * HE * N / t_f
    assert np.max(np.abs(r["n_c"][sel] - expect)) < 0.01 * peak
    assert abs(r["miss"]) < 1e-3


@pytest.mark.parametrize("N", [3.0, 4.0, 5.0])
def test_linear_pn_and_apn_step_maneuver(N):
    t_f, n_t = 10.0, 30.0
    pn = linear_pn(N, t_f, n_t=n_t, h=1e-3)
    apn = linear_pn(N, t_f, n_t=n_t, augmented=True, h=1e-3)
    sel = pn["t"] <= 0.99 * t_f
    t = pn["t"][sel]
    assert np.max(np.abs(pn["n_c"][sel] - step_pn(t, t_f, N, n_t))) < 0.01 * N / (N - 2) * n_t
    assert np.max(np.abs(apn["n_c"][sel] - step_apn(t, t_f, N, n_t))) < 0.01 * N / 2 * n_t
    assert apn["n_c"][0] == pytest.approx(N / 2 * n_t, rel=1e-9)     # APN peaks at launch
    e_pn = np.trapezoid(pn["n_c"][sel] ** 2, t)
    e_apn = np.trapezoid(apn["n_c"][sel] ** 2, t)
    assert e_apn < e_pn


def _fly(law, N, *, he=0.0, n_t=0.0, vt=0.0, t_f=10.0, hz=1000.0):
    g = Guidance(law=law, nav_ratio=N, accel_limit=1e6, lag=0.0, plant_hz=hz, guidance_hz=hz,
                 maneuver="step" if n_t else "none")
    e = Engagement(guidance=g, speed=VM, target_speed=vt, range=(VM + vt) * t_f,
                   heading_error=he, target_accel=n_t, duration=2 * t_f)
    return simulate(e, record_every=1)


@pytest.mark.parametrize("law,vt", [("tpn", 300.0), ("pn", 0.0)])
@pytest.mark.parametrize("N", [3.0, 4.0, 5.0])
def test_nonlinear_pn_heading_error(N, law, vt):
    """Zero-lag PN in the 3-D engagement (target due north, heading error about the
    vertical: the lateral axis is east). Pure PN uses |V_M|, so it meets the closed form
    against a stationary target (V_c = V_M); true PN uses V_c."""
    t_f = 10.0
    he = 0.002
    r = _fly(law, N, he=he, vt=vt, t_f=t_f)
    t, a = r.history["t"], r.history["a_cmd"][:, 0]
    sel = t <= 0.99 * t_f
    expect = -VM * he * N / t_f * (1 - t[sel] / t_f) ** (N - 2)
    peak = VM * he * N / t_f
    assert r.status == "intercept"
    assert np.max(np.abs(a[sel] - expect)) < 0.01 * peak
    assert r.miss_distance_m < 0.05


@pytest.mark.parametrize("N", [3.0, 4.0, 5.0])
def test_nonlinear_pn_apn_step_maneuver(N):
    """Target step maneuver normal to the LOS at t = 0 (east), head-on, zero lag."""
    t_f, n_t = 10.0, 2.0
    res = {}
    for law in ("tpn", "apn"):
        r = _fly(law, N, n_t=n_t, vt=300.0, t_f=t_f)
        t, a = r.history["t"], r.history["a_cmd"][:, 0]
        sel = t <= 0.99 * t_f
        form = step_pn if law == "tpn" else step_apn
        peak = N / (N - 2) * n_t if law == "tpn" else N / 2 * n_t
        assert np.max(np.abs(a[sel] - form(t[sel], t_f, N, n_t))) < 0.01 * peak, law
        assert r.miss_distance_m < 0.05
        res[law] = r
    assert res["apn"].history["a_cmd"][0, 0] == pytest.approx(N / 2 * n_t, rel=1e-3)
    assert res["apn"].control_effort < res["tpn"].control_effort

"""The optimal law's gain and its series form, the optimal law against a lag, the
time-to-go estimate at large heading errors, degenerate geometry."""
import decimal
import math

import numpy as np
import pytest

from xband.guide import laws
from xband.guide.adjoint import adjoint_miss
from xband.guide.engagement import Engagement, Guidance, Salvo, simulate


def gain_exact(x: float) -> float:
    """N′(x) of the closed form in 60-digit arithmetic (no cancellation)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        X = decimal.Decimal(x)
        e = (-X).exp()
        num = 6 * X * X * (e + X - 1)
        den = 2 * X ** 3 + 3 + 6 * X - 6 * X * X - 12 * X * e - 3 * e * e
        return float(num / den)


def test_ogl_gain_series_and_closed_form(backend):
    x = np.concatenate([np.geomspace(1e-4, 0.999, 40), [1.0, 1.0000001], np.linspace(1.1, 30, 20)])
    got = laws.ogl_nav_ratio(x)
    want = np.array([gain_exact(v) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert laws.ogl_nav_ratio([1e-6])[0] == pytest.approx(10.0 / 1e-6, rel=1e-5)   # ≈ 10/x
    assert laws.ogl_nav_ratio([200.0])[0] == pytest.approx(3.0, rel=2e-2)            # → 3


def test_ogl_zero_lag_is_zem_law_with_gain_3(rng, backend):
    """τ = 0: a = 3/t_go² · (r + v t_go + ½ a_T t_go²)⊥ with the reported t_go."""
    rp, rv, ta = rng.normal(size=(30, 3)) * 3e3, rng.normal(size=(30, 3)) * 100, \
        rng.normal(size=(30, 3)) * 20
    rv = rv - 800.0 * rp / np.linalg.norm(rp, axis=1)[:, None]       # closing
    assert np.all(np.einsum("ij,ij->i", rp, rv) < 0)
    a, tgo, _ = laws.command(rp, rv, np.zeros((30, 3)), "ogl", 3.0, 1e9, t_acc=ta)
    u = rp / np.linalg.norm(rp, axis=1)[:, None]
    zem = rp + rv * tgo[:, None] + 0.5 * ta * tgo[:, None] ** 2
    zem -= np.einsum("ij,ij->i", zem, u)[:, None] * u
    np.testing.assert_allclose(a, 3.0 * zem / tgo[:, None] ** 2, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["he", "step"])
def test_ogl_nulls_the_lag_induced_miss(kind):
    """Against the lag it models, the optimal law's miss is ~0 where PN's (adjoint) is
    large (Zarchan ch. 8)."""
    T, vm, vt = 0.5, 1000.0, 300.0
    ratios = np.array([2.0, 3.0, 5.0, 8.0])
    g = Guidance(law="ogl", lag=T, accel_limit=1e6, plant_hz=10000.0, guidance_hz=10000.0,
                 maneuver="step" if kind == "step" else "none")
    init = [Engagement(guidance=g, speed=vm, target_speed=vt, range=(vm + vt) * r * T,
                       heading_error=0.002 if kind == "he" else 0.0,
                       target_accel=2.0 if kind == "step" else 0.0).initial() for r in ratios]
    s = Salvo(g, *(np.array([x[i] for x in init]) for i in range(5)))
    s.finish(10.0)
    adj = adjoint_miss(3.0, T, ratios * T)
    pn_miss = np.abs(adj["he"] * vm * 0.002 if kind == "he" else adj["step"] * 2.0)
    assert np.all(s.status == 1)
    assert np.all(s.miss < 0.05 * pn_miss.max()), (s.miss, pn_miss)


@pytest.mark.parametrize("he", [0.6, 1.0])
def test_tgo_estimate_beats_range_over_closing_speed(he):
    """PN against a stationary target with a large heading error: the estimate
    R/|v|·(1 + θ²/(2(2N′−1))) is closer to the true time to go than R/V_c."""
    N = 4.0
    g = Guidance(law="pn", nav_ratio=N, accel_limit=1e6, plant_hz=1000.0, guidance_hz=1000.0)
    r = simulate(Engagement(guidance=g, speed=1000.0, target_speed=0.0, range=10000.0,
                            heading_error=he, duration=30.0), record_every=100)
    h = r.history
    assert r.status == "intercept"
    sel = h["t"] < 0.8 * r.t_closest_s
    rp = h["t_pos"][sel] - h["m_pos"][sel]
    rv = h["t_vel"][sel] - h["m_vel"][sel]
    _, tgo, _ = laws.command(rp, rv, h["m_vel"][sel], "pn", N)
    true = r.t_closest_s - h["t"][sel]
    rng = np.linalg.norm(rp, axis=1)
    vc = -np.einsum("ij,ij->i", rp, rv) / rng
    err_new = np.abs(tgo - true) / true
    err_old = np.abs(rng / vc - true) / true
    assert err_new.max() < 0.5 * err_old.max()
    assert np.mean(err_new) < 0.5 * np.mean(err_old)


def _one(m_pos, m_vel, t_pos, t_vel, law="tpn", duration=5.0):
    g = Guidance(law=law, accel_limit=300.0, lag=0.2)
    return simulate(Engagement(guidance=g, states=(m_pos, m_vel, t_pos, t_vel),
                               duration=duration))


@pytest.mark.parametrize("law", list(laws.LAWS))
@pytest.mark.parametrize("case,expect", [
    ("zero_closing", "no_closing"), ("target_behind", "receding"),
    ("receding_faster", "receding"), ("coincident", "no_closing"),
    ("overtaken_from_behind", None), ("short_timeout", "timeout")])
def test_degenerate_geometry_has_a_status(case, expect, law):
    z = np.zeros(3)
    north = np.array([0.0, 1.0, 0.0])
    geo = {
        "zero_closing": (z, 500 * north, [1000.0, 0, 0], 500 * north),
        "target_behind": (z, 500 * north, [0.0, -3000, 0], -200 * north),
        "receding_faster": (z, 500 * north, [0.0, 3000, 0], 800 * north),
        "coincident": (z, 500 * north, z, -300 * north),
        "overtaken_from_behind": (z, 500 * north, [30.0, -3000, 0], 900 * north),
        "short_timeout": (z, 500 * north, [0.0, 30000, 0], -300 * north),
    }[case]
    r = _one(*geo, law=law, duration=20.0 if case != "short_timeout" else 1.0)
    if expect is not None:
        assert r.status == expect
    else:
        assert r.status in ("intercept", "timeout")
    for v in (r.miss_distance_m, r.t_closest_s, r.max_accel_cmd, r.control_effort):
        assert math.isfinite(v)
    assert all(np.all(np.isfinite(v)) for v in r.history.values())

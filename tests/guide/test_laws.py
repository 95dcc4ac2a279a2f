"""Guidance laws: geometry of the commands and the linear PN closed form."""
import numpy as np
import pytest

from xband.errors import InputError
from xband.guide import laws
from xband.guide.plant import Plant

pytestmark = pytest.mark.reference_rerun


def test_true_pn_is_perpendicular_to_los_and_scaled(rng, backend):
    rp, rv = rng.normal(size=(20, 3)) * 3e3, rng.normal(size=(20, 3)) * 300
    a, t_go, sat = laws.command(rp, rv, rng.normal(size=(20, 3)), "tpn", 3.0, 1e9)
    np.testing.assert_allclose(np.einsum("ij,ij->i", a, rp), 0.0, atol=1e-6)
    r = np.linalg.norm(rp, axis=1)
    vc = -np.einsum("ij,ij->i", rp, rv) / r
    omega = np.linalg.norm(np.cross(rp, rv), axis=1) / r ** 2
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 3.0 * np.abs(vc) * omega, rtol=1e-10)
    # t_go = R/|v|·(1 + θ²/(2(2N′−1))) between R/|v| and R/V_c (θ the angle of −v to the LOS)
    c = vc > 0
    vr = np.linalg.norm(rv, axis=1)
    th = np.arccos(np.minimum(vc / vr, 1.0))
    np.testing.assert_allclose(t_go[c], (r / vr * (1 + th ** 2 / 10))[c], rtol=1e-12)
    assert np.all(t_go[c] >= (r / vr)[c]) and np.all(t_go[c] <= (r / vc)[c] * (1 + 1e-12))
    assert np.all(np.isinf(t_go[vc <= 0]))
    assert not sat.any()


def test_pure_pn_is_perpendicular_to_velocity_and_limited(rng, backend):
    rp, rv, mv = (rng.normal(size=(20, 3)) * s for s in (3e3, 300, 300))
    a, _, sat = laws.command(rp, rv, mv, "pn", 4.0, 5.0)
    np.testing.assert_allclose(np.einsum("ij,ij->i", a, mv), 0.0, atol=1e-8)
    assert np.all(np.linalg.norm(a, axis=1) <= 5.0 + 1e-12)
    assert sat.any()


def test_bad_law_inputs():
    with pytest.raises(InputError, match="law"):
        laws.command(np.ones(3), np.ones(3), np.ones(3), "ppp")
    with pytest.raises(InputError, match="rel_vel"):
        laws.command(np.ones(3), [np.nan, 0, 0], np.ones(3))
    with pytest.raises(InputError, match="nav_ratio"):
        laws.command(np.ones(3), np.ones(3), np.ones(3), "tpn", -1.0)


@pytest.mark.parametrize("N", [3.0, 4.0, 5.0])
def test_pn_heading_error_closed_form(N):
    """Zero-lag true PN against a heading error, nearly linear geometry (Zarchan ch. 2):
    n_c(t) = −V_M·HE·N′/t_F·(1 − t/t_F)^(N′−2), and the miss is ≈ 0 — here through the
    pipeline's path (laws.command + Plant); tests/guide/test_closed_forms.py checks the
    batched stepper and the linear loop."""
    vm, vt, r0, he = 1000.0, 0.0, 10000.0, -0.01      # stationary target: V_c = V_M
    t_f = r0 / vm
    m = np.r_[0.0, 0, 0, vm * np.cos(he), vm * np.sin(he), 0, 0, 0, 0]
    tg = np.r_[r0, 0.0, 0.0, vt, 0, 0, 0, 0, 0]
    plant = Plant(m, tg, tau=0.0)
    h, t = 2e-3, 0.0
    worst, peak = 0.0, vm * abs(he) * N / t_f
    while not plant.done[0] and t < 2 * t_f:
        rp, rv = plant.tg[:, 0:3] - plant.m[:, 0:3], plant.tg[:, 3:6] - plant.m[:, 3:6]
        a, _, _ = laws.command(rp, rv, plant.m[:, 3:6], "tpn", N, 1e9)
        if t <= 0.99 * t_f:
            expect = -vm * he * N / t_f * (1 - t / t_f) ** (N - 2)
            worst = max(worst, abs(a[0, 1] - expect))
        plant.advance(a, h, 1, t)
        t += h
    assert plant.done[0]
    assert worst < 0.01 * peak, (worst, peak)
    assert plant.cpa[0, 1] < 0.05

"""Scenario plant keys — ``[interceptor] lag_order``, ``gravity``, ``[[targets]] maneuver =
"weave"`` with ``maneuver_period_s`` — give the same engagements as the ``xband engage``
study flags, in the batched stepper and through the pipeline's plant side."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from xband import pipeline
from xband.cli import main
from xband.config import parse_scenario
from xband.errors import ConfigError
from xband.guide.engagement import G0, Guidance, lag_matrices
from xband.guide.plant import LagPlant, Plant
from xband.guide.study import campaign_from_scenario, guidance_from_scenario

pytestmark = pytest.mark.reference_rerun

# the study geometry of `xband engage` (interceptor at the origin, target 5 km north,
# head-on at 300 m/s), guidance and plant at 500 Hz
STUDY = """
[scenario]
duration_s = 60.0
[rates]
plant_hz = 500.0
guidance_hz = 500.0
radar_hz = 20.0
[radar]
model = "truth"
[[targets]]
position_m = [0.0, 5000.0, 0.0]
velocity_mps = [0.0, -300.0, 0.0]
{target}
[interceptor]
position_m = [0.0, 0.0, 0.0]
speed_mps = 900.0
heading_error_rad = -0.35
time_constant_s = 0.5
accel_limit_mps2 = 300.0
{interceptor}
[guidance]
law = "pn"
nav_ratio = 4.0
on = "truth"
"""


def _engage(capsys, *argv):
    assert main(["engage", *argv, "--json", "--no-plot"]) == 0
    return json.loads(capsys.readouterr().out)


def _scenario_file(tmp_path, target="", interceptor=""):
    p = tmp_path / "study.toml"
    p.write_text(STUDY.format(target=target, interceptor=interceptor))
    return p


FLAGS = ["--law", "pn", "--nav-ratio", "4", "--lag", "0.5", "--heading-error", "-0.35",
         "--range", "5000", "--rate", "500", "--guidance-on", "truth"]


def test_lag_order_from_the_scenario_equals_the_flag(capsys, tmp_path):
    path = _scenario_file(tmp_path, interceptor="lag_order = 3")
    sc_doc = _engage(capsys, str(path))
    flag_doc = _engage(capsys, *FLAGS, "--lag-order", "3")
    first = _engage(capsys, *FLAGS)
    assert sc_doc["lag_order"] == flag_doc["lag_order"] == 3
    assert sc_doc["status"] == flag_doc["status"] == "intercept"
    assert sc_doc["miss_distance_m"] == pytest.approx(flag_doc["miss_distance_m"], rel=1e-9,
                                                      abs=1e-9)
    assert sc_doc["t_closest_s"] == pytest.approx(flag_doc["t_closest_s"], rel=1e-12)
    # the order matters (a third-order lag of the same τ misses differently)
    assert abs(first["miss_distance_m"] - flag_doc["miss_distance_m"]) > 1e-3
    # and the flag still overrides the scenario
    over = _engage(capsys, str(path), "--lag-order", "1")
    assert over["miss_distance_m"] == pytest.approx(first["miss_distance_m"], rel=1e-9, abs=1e-9)


def test_weave_from_the_scenario_equals_the_flags(capsys, tmp_path):
    path = _scenario_file(tmp_path, target='maneuver = "weave"\n'
                          'maneuver_accel_mps2 = [40.0, 0.0, 0.0]\nmaneuver_period_s = 3.0')
    sc_doc = _engage(capsys, str(path))
    flag_doc = _engage(capsys, *FLAGS, "--maneuver", "weave", "--target-accel", "40",
                       "--weave-period", "3")
    step_doc = _engage(capsys, *FLAGS, "--maneuver", "step", "--target-accel", "40")
    assert sc_doc["maneuver"] == flag_doc["maneuver"] == "weave"
    assert sc_doc["miss_distance_m"] == pytest.approx(flag_doc["miss_distance_m"], rel=1e-9,
                                                      abs=1e-9)
    assert sc_doc["t_closest_s"] == pytest.approx(flag_doc["t_closest_s"], rel=1e-12)
    assert abs(step_doc["miss_distance_m"] - flag_doc["miss_distance_m"]) > 1e-3


@pytest.mark.parametrize("target, interceptor", [
    ("", "lag_order = 3"),
    ('maneuver = "weave"\nmaneuver_accel_mps2 = [40.0, 0.0, 10.0]\nmaneuver_period_s = 3.0\n'
     "maneuver_start_s = 1.0\nmaneuver_phase_rad = 0.7", "lag_order = 2"),
    ("maneuver_accel_mps2 = [30.0, 0.0, 0.0]\nmaneuver_start_s = 2.0", "gravity = true"),
])
def test_pipeline_plant_agrees_with_the_batched_stepper(tmp_path, target, interceptor, backend):
    """Guidance on truth through the multi-rate pipeline (plant side: flyout.hold at 500 Hz,
    guidance: xband.guide.laws at 100 Hz) lands where the batched stepper (same rates)
    does."""
    sc = parse_scenario(STUDY.format(target=target, interceptor=interceptor)
                        .replace("guidance_hz = 500.0", "guidance_hz = 100.0"))
    r = pipeline.run(sc)
    g = guidance_from_scenario(sc)
    from xband.guide.engagement import simulate
    from xband.guide.study import engagement_from_scenario

    e = simulate(engagement_from_scenario(sc, g))
    assert r.status == e.status == "intercept"
    # the same equations on the same grid: equal up to round-off (guidance in numpy there,
    # in the kernel here)
    assert r.t_closest_s == pytest.approx(e.t_closest_s, abs=1e-9)
    assert r.miss_distance_m == pytest.approx(e.miss_distance_m, rel=1e-6, abs=1e-6)
    if "gravity" in interceptor:
        # compensated by the autopilot from a trimmed launch: the flight without gravity
        r0 = pipeline.run(replace(sc, interceptor=replace(sc.interceptor, gravity=False)))
        assert r.miss_distance_m == pytest.approx(r0.miss_distance_m, rel=1e-9, abs=1e-9)


def test_pipeline_without_the_new_keys_keeps_the_first_order_plant():
    sc = parse_scenario(STUDY.format(target="", interceptor=""))
    eng = pipeline.Engagement(sc, np.random.default_rng(0))
    assert type(eng.plant) is Plant
    for extra in ("lag_order = 2", "gravity = true"):
        eng = pipeline.Engagement(parse_scenario(STUDY.format(target="", interceptor=extra)),
                                  np.random.default_rng(0))
        assert type(eng.plant) is LagPlant


@pytest.mark.parametrize("order, tau", [(1, 0.0), (1, 0.2), (3, 0.3)])
def test_gravity_drop_without_any_command(order, tau, backend):
    """No command at all (not even the autopilot's gravity compensation): the body falls
    z(t) = z₀ + v_z t − g t²/2 while x, y fly straight (RK4 is exact here)."""
    from xband import _kernels

    dt, n = 1e-3, 4
    phi, gam, gg = lag_matrices(tau, order, dt, "rk4")
    M = np.zeros((6 + 3 * order, n))
    M[0:3] = [[0.0], [0.0], [1000.0]]
    M[3:6] = [[10.0], [200.0], [5.0]]
    T = np.zeros((6, n))
    T[1] = 1e7                              # far away: no closest approach
    T[4] = -1.0
    st, tc, ms, stats = np.zeros(n, np.uint8), np.zeros(n), np.zeros(n), np.zeros((3, n))
    for call in range(3):                   # 3 s in calls of 1000 steps
        _kernels.get("flyout").hold(M, T, np.zeros((3, n)), np.zeros((6, n)), phi, gam, gg,
                                    G0, 0, 1, dt, call * 1000, 1000, st, tc, ms, stats)
    t = 3.0
    np.testing.assert_allclose(M[2], 1000.0 + 5.0 * t - 0.5 * G0 * t * t, rtol=1e-12)
    np.testing.assert_allclose(M[5], 5.0 - G0 * t, rtol=1e-12)
    np.testing.assert_allclose(M[0:2], [[10.0 * t] * n, [200.0 * t] * n], rtol=1e-12)
    assert np.all(st == 0)


def test_gravity_compensated_by_the_autopilot():
    """Through the pipeline plant (LagPlant) a zero guidance command holds altitude with
    gravity on (the autopilot adds +g), and the reported acceleration is the kinematic one."""
    m0 = np.r_[0.0, 0.0, 1000.0, 0.0, 300.0, 0.0, 0.0, 0.0, 0.0]
    tg0 = np.r_[0.0, 1e6, 1000.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0]
    p = LagPlant(m0, tg0, 0.2, 1e-3, order=3, gravity=True)
    for k in range(200):
        p.advance(np.zeros((1, 3)), 1e-3, 10, k * 1e-2)
    np.testing.assert_allclose(p.m[0, 2], 1000.0, atol=1e-9)
    np.testing.assert_allclose(p.m[0, 6:9], 0.0, atol=1e-12)
    np.testing.assert_allclose(p.m[0, 1], 600.0, rtol=1e-12)


def test_lagplant_first_order_equals_the_engage_plant(rng, backend):
    """Order 1, no gravity, constant target acceleration: the flyout.hold plant and the
    engage.propagate plant integrate the same equations."""
    m0 = np.r_[0.0, 0.0, 0.0, 50.0, 700.0, 10.0, 0.0, 0.0, 0.0]
    tg0 = np.r_[300.0, 4000.0, 200.0, 0.0, -250.0, 0.0, 20.0, -5.0, 0.0]
    a = Plant(m0, tg0, 0.25)
    b = LagPlant(m0, tg0, 0.25, 1e-3)
    for k in range(1000):
        cmd = rng.normal(size=(1, 3)) * 50
        a.advance(cmd, 1e-3, 5, k * 5e-3)
        b.advance(cmd, 1e-3, 5, k * 5e-3)
        if a.done[0] or b.done[0]:
            break
    assert a.done[0] == b.done[0] == 1
    np.testing.assert_allclose(b.cpa, a.cpa, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.m[0, 0:6], a.m[0, 0:6], rtol=1e-9, atol=1e-6)


def test_pipeline_weave_target_truth_is_exact():
    """A weaving target the interceptor does not engage follows the closed form
    (xband.pipeline.weave_state): its velocity and position are the integrals of
    a = A·sin(ω(t − t_s) + φ) from t_s on (checked by quadrature)."""
    from scipy.integrate import quad

    w = np.r_[10.0, -4.0, 2.0, 1.0, 2 * math.pi / 3.0, 0.4]
    p0, v0 = np.r_[1.0, 2.0, 3.0], np.r_[100.0, -50.0, 0.0]

    def acc(s, j):
        return w[j] * math.sin(w[4] * (s - w[3]) + w[5]) if s >= w[3] else 0.0

    def dv(s, j):
        return quad(acc, 0.0, s, args=(j,), points=[w[3]], epsabs=1e-12)[0] if s > 0 else 0.0

    for t in (0.5, 1.0, 2.3, 6.9):
        p, v, a = pipeline.weave_state(p0, v0, w, t)
        for j in range(3):
            assert a[j] == pytest.approx(acc(t, j), abs=1e-12)
            assert v[j] == pytest.approx(v0[j] + dv(t, j), abs=1e-9)
            dp = quad(dv, 0.0, t, args=(j,), points=[w[3]], epsabs=1e-12)[0]
            assert p[j] == pytest.approx(p0[j] + v0[j] * t + dp, abs=1e-8)


def test_campaign_takes_the_scenario_keys():
    sc = parse_scenario(STUDY.format(
        target='maneuver = "weave"\nmaneuver_accel_mps2 = [40.0, 0.0, 0.0]\n'
               "maneuver_period_s = 2.5", interceptor="lag_order = 2\ngravity = true"))
    g = guidance_from_scenario(sc)
    assert (g.maneuver, g.lag_order, g.gravity) == ("weave", 2, True)
    c = campaign_from_scenario(sc, g, 4)
    assert c.weave_period == 2.5 and c.target_accel == (40.0, 0.0, 0.0)
    # flags override
    g = guidance_from_scenario(sc, lag_order=1, gravity=False, maneuver="step")
    assert (g.maneuver, g.lag_order, g.gravity) == ("step", 1, False)
    # on the pipeline path the run scenario carries the campaign's plant settings
    c = campaign_from_scenario(sc, g, 4, guidance_on="noisy")
    assert c.scenario.interceptor.lag_order == 1 and not c.scenario.interceptor.gravity
    assert c.scenario.targets[0].maneuver == "step"
    with pytest.raises(ConfigError, match="--integrator"):
        campaign_from_scenario(sc, Guidance(integrator="euler"), 4, guidance_on="track")


def test_montecarlo_cli_on_a_weave_scenario(capsys, tmp_path):
    path = _scenario_file(tmp_path, target='maneuver = "weave"\n'
                          'maneuver_accel_mps2 = [40.0, 0.0, 0.0]\nmaneuver_period_s = 3.0',
                          interceptor="lag_order = 2")
    argv = ["montecarlo", str(path), "--runs", "8", "--jobs", "1", "--json", "--no-plot",
            "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["maneuver"], doc["lag_order"], doc["guidance_on"]) == ("weave", 2, "truth")
    assert doc["status_counts"].get("intercept") == 8
    assert main(argv + ["--lag-order", "0"]) == 2
    assert "lag_order" in capsys.readouterr().err

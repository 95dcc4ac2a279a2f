"""Stone Soup as a peer: xband's tracker against a comparable Stone Soup EKF + GNN tracker on
the same detections of a crossing-targets-in-clutter scene.

The scene (benches/_peers_scene.py, shared with benches/bench_peers.py): four targets
whose paths cross near one point at mid-run, P_d = 0.9, 8 false alarms per scan on
average, 100 scans at 2 Hz, the detections made once by ``MeasurementModel`` from a seeded
Generator. Two variants: all constant velocity ("crossing"), and the same with the fourth
target pulling a 4 g level turn for 10 s after the crossing ("crossing+turn").

Stone Soup is set up like xband's default ``[tracker]`` table (the scene module's docstring
lists each component): CV with the same q (the same continuous white-noise Q, checked
below), the same R in its own measurement order and angle convention, the χ² gate of
``gate_probability`` as a Mahalanobis-distance gate, GNN by optimal assignment, initiation
at the measured position with the radial velocity vector and σ_v per axis, confirmation
after ``confirm_m`` updates, deletion after ``delete_misses`` consecutive misses.
Remaining differences: Stone Soup associates confirmed tracks first and held tracks with
the left-over detections (xband: all tracks at once), its GNN minimises Σ √NIS (xband:
Σ NIS/γ), and "3 updates before 2 consecutive misses" is not exactly "3 of the last 4".

Measured (seed 4): on this scene the two CV EKFs make the same decisions and agree to
~1e-8 m (asserted to 1 mm); mean GOSPA (c = 100 m, p = 2, α = 2) crossing: xband EKF =
Stone Soup = 26.5 m, xband IMM 27.4 m; crossing+turn: xband EKF = Stone Soup = 31.6 m,
xband IMM 27.4 m.

The acceptance bound for "no worse" is GOSPA_xband ≤ 1.05 · GOSPA_StoneSoup + 1 m: the
IMM (default ``filter = "imm"``, CV/CA/CT) pays a few per cent on pure constant-velocity
truth for the process noise of its manoeuvre models (≈ 3 % here) — the price of holding
the turning target, where it wins by ≈ 13 %; the 1 m absorbs single-realisation noise of
the metric's floor. A lost or swapped track costs tens of metres of mean GOSPA, far
outside the bound.
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

pytest.importorskip("stonesoup", reason="the compare extra (Stone Soup) is not installed")

from xband.config import Radar, Tracker as TrackerConfig  # noqa: E402
from xband.radar.measure import MeasurementModel, sph_of  # noqa: E402
from xband.track.models import cv_matrices  # noqa: E402


def _scene_module():
    """benches/_peers_scene.py, the one home of the scene and Stone Soup set-up."""
    name = "_peers_scene"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "benches" / "_peers_scene.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


S = _scene_module()
SCENES = {"crossing": {}, "crossing+turn": {"turn_accel": 40.0}}
TOL_REL, TOL_ABS = 1.05, 1.0
_cache: dict = {}


def _runs(name: str) -> dict:
    """Scene, per-scan confirmed positions and mean GOSPA of every tracker (cached)."""
    if name not in _cache:
        scene = S.crossing_scene(seed=4, **SCENES[name])
        ss = S.StoneSoupTracker(TrackerConfig(), scene.radar)
        pos = {"imm": S.run_xband(scene, S.xband_tracker("imm")),
               "ekf": S.run_xband(scene, S.xband_tracker("ekf")),
               "stonesoup": S.run_stonesoup(scene, ss)}
        _cache[name] = {"scene": scene, "pos": pos,
                        "gospa": {k: S.mean_gospa(scene, v) for k, v in pos.items()}}
    return _cache[name]


def test_measurement_conversion_matches_stonesoup():
    """Stone Soup's measurement function at known states reproduces xband's measurement
    converted to (elevation, bearing, range, range_rate); its inverse gives the position
    back; the covariance maps with the signed permutation."""
    ss = S.StoneSoupTracker(TrackerConfig(), Radar())
    from stonesoup.types.state import State

    pos = np.array([[6000.0, 9000.0, 3000.0], [-8000.0, -1.0, 500.0], [-8000.0, 1.0, 500.0],
                    [-5000.0, -7000.0, -200.0], [100.0, -20000.0, 9000.0], [3.0, 4.0, 0.0]])
    vel = np.array([[-120.0, -230.0, 0.0], [200.0, 5.0, 1.0], [200.0, -5.0, 1.0],
                    [10.0, 300.0, -20.0], [-50.0, 50.0, 0.0], [1.0, 1.0, 1.0]])
    z_xb = S.to_ss_meas(sph_of(pos, vel))
    for p, v, z in zip(pos, vel, z_xb):
        x_ss = np.concatenate([p, v])[S.SS_FROM_XB][:, None]
        h = np.asarray(ss.measurement.function(State(x_ss)), float)[:, 0]
        d = h - z
        d[1] = S.wrap(d[1])                       # bearing near ±π on the west axis
        np.testing.assert_allclose(d, 0.0, atol=1e-9 * max(1.0, np.abs(z).max()))
        det = next(iter(ss.convert_z(z[None])))
        back = np.asarray(ss.measurement.inverse_function(det), float)[:, 0]
        np.testing.assert_allclose(back[[0, 2, 4]], p, atol=1e-7)
    R = MeasurementModel(Radar()).R
    np.testing.assert_array_equal(ss.measurement.covar(), np.diag(np.diag(R)[[2, 1, 0, 3]]))
    Rc = np.arange(16.0).reshape(4, 4)
    Rc = Rc @ Rc.T                               # full covariance: bearing = −az flips signs
    Rs = S.to_ss_cov(Rc)
    assert Rs[1, 2] == -Rc[1, 0] and Rs[0, 1] == -Rc[2, 1] and Rs[0, 2] == Rc[2, 0]


def test_stonesoup_transition_is_xband_cv():
    """ConstantVelocity(q) in Stone Soup's state order = xband's cv_matrices(dt, q)."""
    import datetime as dt

    cfg = TrackerConfig()
    ss = S.StoneSoupTracker(cfg, Radar())
    for step in (0.05, 0.5, 2.0):
        F_xb, Q_xb = cv_matrices(step, cfg.process_noise)
        perm = S.SS_FROM_XB
        td = dt.timedelta(seconds=step)
        np.testing.assert_allclose(ss.transition.matrix(time_interval=td),
                                   F_xb[np.ix_(perm, perm)], atol=1e-12)
        np.testing.assert_allclose(ss.transition.covar(time_interval=td),
                                   Q_xb[np.ix_(perm, perm)], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SCENES)
def test_stonesoup_tracks_every_target(name):
    """The peer is a working tracker: over the last half of the run (after the crossing)
    every target has its own confirmed track within c = 100 m, the GOSPA cut-off, and on
    constant-velocity truth there is no other confirmed track. Through the 4 g turn the CV
    filter lags the turning target by more than c and briefly holds a duplicate track for
    it (so does xband's CV EKF, identically): there, the straight flyers are checked over
    the last half and the turning one over the last 10 scans, once it has been re-acquired."""
    r = _runs(name)
    scene, pos = r["scene"], r["pos"]["stonesoup"]
    n, S_ = scene.n_targets, len(pos)
    turning = () if name == "crossing" else (n - 1,)
    for k in range(S_ // 2, S_):
        truth, est = scene.pos[k], pos[k]
        assert n <= len(est) <= n + len(turning), (k, len(est))
        D = np.linalg.norm(truth[:, None] - est[None], axis=2)
        i, j = linear_sum_assignment(D)
        check = np.ones(n, bool) if k >= S_ - 10 else ~np.isin(i, turning)
        assert D[i, j][check].max() < S.GOSPA["c"], (k, D[i, j])


@pytest.mark.parametrize("name", SCENES)
def test_xband_ekf_equals_stonesoup(name):
    """Same model, same data, same gate: xband's CV EKF and Stone Soup's make the same
    decisions and estimates — every scan, the same number of confirmed tracks at the same
    positions (1 mm), which pins the conventions (order, bearing, Q, R, initiation)."""
    r = _runs(name)
    worst = 0.0
    for k, (a, b) in enumerate(zip(r["pos"]["ekf"], r["pos"]["stonesoup"])):
        assert len(a) == len(b), (k, len(a), len(b))
        if len(a):
            D = np.linalg.norm(a[:, None] - b[None], axis=2)
            i, j = linear_sum_assignment(D)
            worst = max(worst, float(D[i, j].max()))
    assert worst < 1e-3, worst


@pytest.mark.parametrize("filt", ["ekf", "imm"])
@pytest.mark.parametrize("name", SCENES)
def test_gospa_no_worse_than_stonesoup(name, filt):
    """Mean GOSPA of xband's tracker ≤ 1.05 × Stone Soup's + 1 m (module docstring)."""
    g = _runs(name)["gospa"]
    mine, peer = g[filt]["gospa"], g["stonesoup"]["gospa"]
    print(f"{name}: mean GOSPA xband-{filt} {mine:.2f} m, Stone Soup {peer:.2f} m "
          f"(missed {g[filt]['missed']:.2f} / {g['stonesoup']['missed']:.2f}, "
          f"false {g[filt]['false']:.2f} / {g['stonesoup']['false']:.2f})")
    assert mine <= TOL_REL * peer + TOL_ABS, (name, filt, g)

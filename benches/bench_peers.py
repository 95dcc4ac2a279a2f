"""xband vs its peers in the same run, on identical input.

* "kf cycle": one KF predict+update — FilterPy per filter object vs xband per batch of n.
* "imm 3 models cycle": FilterPy's IMMEstimator (three CV KalmanFilters) vs xband's IMM on
  the same matrices (checked equal before timing), and xband's CV/CA/CT bank, n = 1, 100,
  10 000 tracks per call.
* "tracker scan N+C": time per scan of the whole multi-target tracker, xband's Tracker vs
  Stone Soup's EKF + GNN set up alike, and xband's JPDA vs Stone Soup's JPDA with EHM
  (``JPDAwithEHM``), on the same detections of N targets and a mean of C false alarms per
  scan, with every tracker's mean GOSPA in extra_info and printed (scene and Stone Soup
  set-up: benches/_peers_scene.py, shared with tests/oracle).

FilterPy updates one filter object per call; xband updates a batch of n tracks in one call:
compare per-track times (median / n; ``median_per_track_us`` in extra_info).
XBAND_BENCH_SHORT=1 drops n = 10 000 and the 1 000-target scene and shortens the scenes.
"""
import importlib.util

import numpy as np
import pytest

from xband.track import filters
from xband.track.models import cv_matrices

from conftest import sizes

kalman = pytest.importorskip("filterpy.kalman")


def _setup():
    F, Q = cv_matrices(0.05, 10.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([25.0, 25.0, 25.0])
    return F, Q, H, R


def test_filterpy_kf_cycle(benchmark, rng):
    F, Q, H, R = _setup()
    kf = kalman.KalmanFilter(dim_x=6, dim_z=3)
    kf.F, kf.Q, kf.H, kf.R = F, Q, H, R
    kf.x = np.zeros(6)
    kf.P = np.eye(6) * 100
    z = rng.normal(size=3)

    def run():
        kf.predict()
        kf.update(z)

    benchmark.group = "kf cycle (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="filterpy")
    benchmark(run)


@pytest.mark.parametrize("n", sizes(1, 100, 10_000, short=(1, 100)))
def test_xband_kf_cycle(benchmark, rng, n):
    F, Q, H, R = _setup()
    x = np.zeros((n, 6))
    P = np.tile(np.eye(6) * 100, (n, 1, 1))
    z = rng.normal(size=(n, 3))
    Rb = np.ascontiguousarray(np.broadcast_to(R, (n, 3, 3)))

    def run():
        filters.predict(x, P, F, Q)
        filters.update(x, P, z, H, Rb)

    benchmark.group = "kf cycle (predict+update), per call"
    benchmark.extra_info.update(n=n, backend="xband")
    benchmark(run)


# ----------------------------------------------------------------------------- 3-model IMM
# FilterPy's IMMEstimator mixes its filters' x and P by plain weighted sums, so its filters
# must share one state space: the like-for-like pair is three CV models of different q
# (identical matrices, the same oracle as tests/oracle/test_filterpy.py — checked below
# before timing). xband's default CV/CA/CT bank (different state sizes, CT an EKF) runs in
# the same group for the record. Per-track time = median / n (n in extra_info).
IMM_DT = 0.05
IMM_QS = (0.1, 10.0, 1000.0)
IMM_PI = np.array([[0.90, 0.05, 0.05], [0.10, 0.85, 0.05], [0.02, 0.08, 0.90]])
IMM_MU0 = np.array([0.5, 0.3, 0.2])
IMM_GROUP = "imm 3 models cycle (predict+update), per call"


def _imm_common():
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([25.0, 16.0, 9.0])
    x0 = np.array([1000.0, 2000.0, 500.0, -30.0, 20.0, 0.0])
    P0 = np.diag([400.0, 400.0, 400.0, 100.0, 100.0, 100.0])
    return H, R, x0, P0


def _filterpy_imm():
    H, R, x0, P0 = _imm_common()
    fs = []
    for q in IMM_QS:
        kf = kalman.KalmanFilter(dim_x=6, dim_z=3)
        kf.F, kf.Q = cv_matrices(IMM_DT, q)
        kf.H, kf.R, kf.x, kf.P = H, R, x0.copy(), P0.copy()
        fs.append(kf)
    return kalman.IMMEstimator(fs, IMM_MU0.copy(), IMM_PI)


def _xband_imm(specs, n):
    from xband.track.imm import IMM

    _, _, x0, P0 = _imm_common()
    imm = IMM(specs, IMM_PI, mu0=IMM_MU0)
    imm.add(np.tile(x0, (n, 1)), np.tile(P0, (n, 1, 1)))
    return imm


def _per_track(benchmark, n):
    st = getattr(benchmark, "stats", None)
    if st is not None and getattr(st, "stats", None) is not None:
        benchmark.extra_info["median_per_track_us"] = st.stats.median / n * 1e6


def test_filterpy_imm_cycle(benchmark, rng):
    from xband.track.models import ModelSpec

    H, R, x0, _ = _imm_common()
    z = x0[:3] + rng.normal(size=3) * 5.0
    # identical matrices: a few cycles of both agree before anything is timed
    fimm = _filterpy_imm()
    ximm = _xband_imm([ModelSpec("cv", q=q) for q in IMM_QS], 1)
    for _ in range(5):
        fimm.predict()
        fimm.update(z)
        ximm.predict(IMM_DT)
        ximm.update_linear(z[None], H, R)
    x, P, mu = ximm.estimate()
    np.testing.assert_allclose(x[0], fimm.x, atol=1e-9)
    np.testing.assert_allclose(P[0], fimm.P, atol=1e-9)
    np.testing.assert_allclose(mu[0], fimm.mu, atol=1e-12)

    def run():
        fimm.predict()
        fimm.update(z)

    benchmark.group = IMM_GROUP
    benchmark.extra_info.update(n=1, backend="filterpy", models="cv/cv/cv")
    benchmark(run)
    _per_track(benchmark, 1)


@pytest.mark.parametrize("models", ["cv/cv/cv", "cv/ca/ct"])
@pytest.mark.parametrize("n", sizes(1, 100, 10_000, short=(1, 100)))
def test_xband_imm_cycle(benchmark, rng, n, models):
    from xband.track.models import ModelSpec

    if models == "cv/cv/cv":
        specs = [ModelSpec("cv", q=q) for q in IMM_QS]
    else:
        specs = [ModelSpec("cv", q=50.0), ModelSpec("ca", q=100.0),
                 ModelSpec("ct", q=50.0, q_omega=1e-3)]
    H, R, x0, _ = _imm_common()
    imm = _xband_imm(specs, n)
    z = np.ascontiguousarray(x0[:3] + rng.normal(size=(n, 3)) * 5.0)
    Rb = np.ascontiguousarray(np.broadcast_to(R, (n, 3, 3)))

    def run():
        imm.predict(IMM_DT)
        imm.update_linear(z, H, Rb)

    benchmark.group = IMM_GROUP
    benchmark.extra_info.update(n=n, backend="xband", models=models)
    benchmark(run)
    _per_track(benchmark, n)


# ----------------------------------------------------------------------------- whole scans
# Time per scan of the whole tracker (predict, gate, associate, update, confirm, delete,
# initiate) on the same detections: xband's Tracker (default config: IMM CV/CA/CT; and the
# CV EKF) vs Stone Soup's EKF + GNN set up alike (benches/_peers_scene.py). Each tracker
# first runs the whole scene (its mean GOSPA, c = 100 m, p = 2, α = 2, over every scan
# and over the scans after the confirmation window, goes into extra_info and is printed);
# a snapshot taken after `warm` scans is deep-copied before every round (outside the
# timing) and one round is the step of scan `warm`: a steady-state scan with the targets'
# tracks confirmed and the clutter's tentative ones alive. Stone Soup's input is converted
# to its Detection objects beforehand (not timed). At 1 000 targets Stone Soup's plain GNN
# (every track × every detection as Python objects) takes minutes per scan, so only its
# kd-tree pre-selection (DetectionKDTreeGNN2D, same hypothesiser) runs there. The first
# row of a case prepares every tracker of that case (even under -k), so that each row's
# extra_info holds all their GOSPAs. Reading the GOSPAs: xband's CV EKF and Stone Soup make
# identical decisions at 10 + 10 and 50 + 50; at 1 000 + 1 000 xband confirms later (its
# "3 of the last 4" drops a tentative track that Stone Soup's "3 updates before 2
# consecutive misses" keeps; with confirm_n = 5 xband's steady GOSPA is below Stone Soup's).
SCAN_CASES = {
    "10+10": dict(n=10, clutter=10.0, scans=sizes(30, short=(12,))[0],
                  warm=sizes(10, short=(8,))[0]),
    "50+50": dict(n=50, clutter=50.0, scans=sizes(20, short=(8,))[0],
                  warm=sizes(8, short=(6,))[0]),
    "1000+1000": dict(n=1000, clutter=1000.0, scans=8, warm=6),
}
SCAN_KINDS = ("xband-imm", "xband-ekf", "xband-imm-stages", "xband-ekf-stages", "xband-ekf-jpda",
              "stonesoup-gnn", "stonesoup-kdtree", "stonesoup-jpda")
# "-stages" rows: the same tracker forced onto its per-stage path (one kernel call per
# stage, as JPDA and the UKF/CMKF updates run) instead of one scan_step call per scan —
# the before/after of ext/scan.pyx side by side.
# JPDA rows: xband's Tracker with ``association = "jpda"`` (CV EKF; clusters of tracks that
# share gated detections, exact per cluster) vs Stone Soup's JPDAwithEHM
# (_peers_scene.StoneSoupJPDATracker: PDAHypothesiser with the same P_D, P_G and clutter
# density, mixture-reduced EKF updates, the same M-of-N initiator). Stone Soup's JPDA takes
# seconds per scan at 50 + 50, so it runs at 10 + 10 and 50 + 50 only.
_SS_MAX_N = {"stonesoup-gnn": 100, "stonesoup-jpda": 100}
_ROUNDS = {  # (xband, stonesoup) rounds per case
    "10+10": sizes((50, 5), short=((10, 2),))[0],
    "50+50": sizes((20, 3), short=((5, 1),))[0],
    "1000+1000": (3, 1),
}
_prepared: dict = {}


def _prepare(case):
    """Run every tracker over the case's scene once: GOSPA and the snapshot to time from."""
    if case in _prepared:
        return _prepared[case]
    import copy

    import _peers_scene as scn
    from xband.config import Tracker as TrackerConfig

    spec = SCAN_CASES[case]
    scene = scn.random_scene(spec["n"], spec["clutter"], spec["scans"])
    warm, cfg = spec["warm"], TrackerConfig()
    steady = cfg.confirm_n
    out = {"scene": scene, "warm": warm, "kinds": {}}
    for kind in SCAN_KINDS:
        if kind.startswith("stonesoup"):
            if importlib.util.find_spec("stonesoup") is None:
                continue
            if spec["n"] > _SS_MAX_N.get(kind, spec["n"]):
                continue
            if kind == "stonesoup-jpda":
                tr = scn.StoneSoupJPDATracker(cfg, scene.radar)
            else:
                tr = scn.StoneSoupTracker(cfg, scene.radar, associator=kind.split("-")[1])
            conv = [tr.convert(d, t) for d, t in zip(scene.scans, scene.times)]
            pos = scn.run_stonesoup(scene, tr, conv, 0, warm)
            snap = copy.deepcopy(tr)
            pos += scn.run_stonesoup(scene, tr, conv, warm)
            step = (lambda s, c=conv[warm]: s.step(c))
        else:
            parts = kind.split("-")
            stages = parts[-1] == "stages"
            assoc = parts[2] if len(parts) > 2 and not stages else "gnn"
            tr = scn.xband_tracker(parts[1], association=assoc)
            if stages:
                tr._fast = False
            pos = scn.run_xband(scene, tr, 0, warm)
            snap = copy.deepcopy(tr)
            pos += scn.run_xband(scene, tr, warm)
            step = (lambda s, d=scene.scans[warm], t=float(scene.times[warm]): s.step(d, t))
        g_all = scn.mean_gospa(scene, pos)
        g_steady = scn.mean_gospa(scene, pos[steady:], first=steady)
        out["kinds"][kind] = {"snap": snap, "step": step, "gospa": g_all,
                              "gospa_steady": g_steady}
    _prepared[case] = out
    return out


def _cases():
    keep = sizes(*SCAN_CASES, short=("10+10", "50+50"))
    return [(c, k) for c in keep for k in SCAN_KINDS
            if not SCAN_CASES[c]["n"] > _SS_MAX_N.get(k, SCAN_CASES[c]["n"])]


@pytest.mark.parametrize("case,kind", _cases())
def test_tracker_scan(benchmark, capsys, case, kind):
    import copy

    if kind.startswith("stonesoup"):
        pytest.importorskip("stonesoup")
    prep = _prepare(case)
    this = prep["kinds"][kind]
    gospas = {k: round(v["gospa"]["gospa"], 2) for k, v in prep["kinds"].items()}
    steady = {k: round(v["gospa_steady"]["gospa"], 2) for k, v in prep["kinds"].items()}
    snap = this["snap"]
    n_tracks = (len(snap.tracker.tracks) + len(snap.initiator.holding_tracks)
                if kind.startswith("stonesoup") else int(snap.bank.n))
    xr, sr = _ROUNDS[case]
    benchmark.group = f"tracker scan {case} (time per scan)"
    benchmark.extra_info.update(
        case=case, backend=kind, n_targets=SCAN_CASES[case]["n"],
        clutter_mean=SCAN_CASES[case]["clutter"], scans=SCAN_CASES[case]["scans"],
        timed_scan=prep["warm"], live_tracks_before=n_tracks,
        dets_in_timed_scan=len(prep["scene"].scans[prep["warm"]]),
        gospa=this["gospa"], gospa_steady=this["gospa_steady"],
        gospa_all_trackers=gospas, gospa_steady_all_trackers=steady)
    with capsys.disabled():
        print(f"\n[{case}] {kind}: mean GOSPA {this['gospa']['gospa']:.2f} m over "
              f"{SCAN_CASES[case]['scans']} scans, {this['gospa_steady']['gospa']:.2f} m "
              f"after confirmation (missed {this['gospa_steady']['missed']:.2f}, false "
              f"{this['gospa_steady']['false']:.2f}, rms loc "
              f"{this['gospa_steady']['rms_loc']:.1f} m); all: {steady}")
    benchmark.pedantic(this["step"], setup=lambda: ((copy.deepcopy(this["snap"]),), {}),
                       rounds=sr if kind.startswith("stonesoup") else xr, iterations=1)


# ----------------------------------------------------------------------------- JPDA
# The association probabilities of the timed 50 + 50 JPDA scan (the gate matrices that
# scan hands to jpda_probabilities, captured from a copy of the snapshot): the per-cluster
# enumeration of track.association vs track.jpda (single-track clusters in closed form,
# the same β), same input, same run.
@pytest.mark.parametrize("impl", ["association", "jpda"])
def test_jpda_probabilities(benchmark, impl):
    import copy

    import xband.track.tracker as tracker_mod
    from xband.track import association, jpda

    prep = _prepare("50+50")
    this = prep["kinds"]["xband-ekf-jpda"]
    got = []
    real = tracker_mod.jpda_probabilities

    def spy(*a):
        got.append(a)
        return real(*a)

    tracker_mod.jpda_probabilities = spy
    try:
        this["step"](copy.deepcopy(this["snap"]))
    finally:
        tracker_mod.jpda_probabilities = real
    args = got[0]
    fn = association.jpda_probabilities if impl == "association" else jpda.jpda_probabilities
    np.testing.assert_array_equal(fn(*args), association.jpda_probabilities(*args))
    benchmark.group = "jpda probabilities, timed 50+50 scan"
    benchmark.extra_info.update(impl=impl, tracks=args[0].shape[0], dets=args[0].shape[1])
    benchmark(fn, *args)

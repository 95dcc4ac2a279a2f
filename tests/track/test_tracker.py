"""The scan-by-scan tracker on simulated scans: confirmation, accuracy, clutter, bad input."""
import numpy as np
import pytest

from xband.config import Radar, Tracker as TrackerConfig
from xband.errors import InputError
from xband.radar.measure import MeasurementModel, sph_of
from xband.track.tracker import Tracker
from xband.types import Detections

pytestmark = pytest.mark.reference_rerun


def _fly(rng, tracker, radar, p, v, scans, dt=0.05):
    sensor = MeasurementModel(radar)
    out = []
    for k in range(scans):
        t = k * dt
        pos = p + v * t
        dets = sensor.measure(t, pos, np.broadcast_to(v, pos.shape), np.ones(len(p)), rng)
        out.append((tracker.step(dets, t), pos))
    return out


@pytest.mark.parametrize("assoc", ["gnn", "jpda"])
def test_two_targets_in_clutter(rng, backend, assoc):
    from dataclasses import replace
    p = np.array([[5000.0, 8000.0, 2000.0], [-3000.0, 9000.0, 1500.0]])
    v = np.array([[-100.0, -200.0, 0.0], [150.0, -180.0, 5.0]])
    tracker = Tracker(replace(TrackerConfig(), association=assoc))
    hist = _fly(rng, tracker, Radar(p_detection=0.9, false_alarms_per_scan=5.0), p, v, 120)
    tracks, pos = hist[-1]
    conf = tracks.take(tracks.confirmed)
    assert len(conf) == 2
    d = np.linalg.norm(conf.x[:, None, :3] - pos[None], axis=2)
    assert np.all(d.min(axis=0) < 30.0)                   # each target has a close track
    ids_over_time = {int(i) for tr, _ in hist[-60:] for i in tr.id[tr.confirmed]}
    assert ids_over_time == set(conf.id.tolist())        # stable ids, no swaps or breaks
    vel_err = np.linalg.norm(conf.x[:, 3:6][np.argmin(d, axis=0)] - v, axis=1)
    assert np.all(vel_err < 20.0)
    assert tracker.stats["deleted"] > 0                   # clutter tracks died


def test_nonfinite_detections_never_poison_a_track(rng, backend):
    p, v = np.array([[4000.0, 6000.0, 1000.0]]), np.array([[-80.0, -150.0, 0.0]])
    radar = Radar(p_detection=1.0, false_alarms_per_scan=0.0)
    tracker = Tracker(TrackerConfig())
    _fly(rng, tracker, radar, p, v, 20)
    bad = Detections(t=[1.0, 1.0, 1.0], range=[np.nan, np.inf, 7000.0],
                     az=[0.5, 0.5, np.nan], el=[0.1, 0.1, 0.1], range_rate=[1.0, 1.0, np.inf],
                     snr=[10.0, 10.0, 10.0], R=np.broadcast_to(np.eye(4), (3, 4, 4)))
    tracks = tracker.step(bad, 1.0)
    assert np.all(np.isfinite(tracks.x)) and np.all(np.isfinite(tracks.P))
    assert tracker.stats["rejected_nonfinite"] == 3
    assert tracker.stats["skipped_updates"] == 0


def test_sum_only_detection_updates_range_only(rng, backend):
    p, v = np.array([[4000.0, 6000.0, 1000.0]]), np.array([[-80.0, -150.0, 0.0]])
    tracker = Tracker(TrackerConfig())
    tracks, pos = _fly(rng, tracker, Radar(p_detection=1.0, false_alarms_per_scan=0.0),
                       p, v, 20)[-1]
    t = 20 * 0.05
    true = pos[0] + v[0] * 0.05
    r = np.linalg.norm(true)
    rr = true @ v[0] / r
    R = np.diag([25.0, np.nan, np.nan, 1.0])
    det = Detections(t=[t], range=[r], az=[np.nan], el=[np.nan], range_rate=[rr], snr=[30.0],
                     R=R[None])
    tracks = tracker.step(det, t)
    assert tracker.stats["updates"] >= 20 and np.all(np.isfinite(tracks.x))


def test_time_must_not_go_back(rng):
    tracker = Tracker(TrackerConfig())
    tracker.step(Detections.empty(), 1.0)
    with pytest.raises(InputError, match="before the last"):
        tracker.step(Detections.empty(), 0.5)


@pytest.mark.parametrize("flt, update, assoc", [("ekf", "ukf", "gnn"), ("imm", "ukf", "gnn"),
                                                ("ekf", "ekf", "jpda"), ("imm", "ekf", "jpda")])
def test_filter_and_update_options_track(rng, backend, flt, update, assoc):
    from dataclasses import replace
    p = np.array([[5000.0, 8000.0, 2000.0]])
    v = np.array([[-100.0, -200.0, 0.0]])
    tracker = Tracker(replace(TrackerConfig(), filter=flt, update=update, association=assoc))
    tracks, pos = _fly(rng, tracker, Radar(p_detection=1.0, false_alarms_per_scan=1.0),
                       p, v, 60)[-1]
    conf = tracks.take(tracks.confirmed)
    assert len(conf) == 1 and np.linalg.norm(conf.x[0, :3] - pos[0]) < 30.0
    assert conf.mode_probs.shape[1] == (3 if flt == "imm" else 1)


def test_jpda_falls_back_to_gnn_on_a_huge_cluster(rng, monkeypatch):
    """A cluster beyond the enumeration limit is associated by GNN instead (counted)."""
    from dataclasses import replace

    from xband.track import association
    monkeypatch.setattr(association, "JPDA_MAX_EVENTS", 3)
    p = np.array([[5000.0, 8000.0, 2000.0], [5030.0, 8000.0, 2000.0]])
    v = np.array([[-100.0, -200.0, 0.0], [-100.0, -200.0, 0.0]])
    tracker = Tracker(replace(TrackerConfig(), association="jpda"))
    tracks, _ = _fly(rng, tracker, Radar(p_detection=1.0, false_alarms_per_scan=0.0),
                     p, v, 30)[-1]
    assert tracker.stats["jpda_fallbacks"] > 0
    assert np.all(np.isfinite(tracks.x))


@pytest.mark.parametrize("flt", ["ekf", "imm"])
def test_sparse_gating_equals_dense(flt, monkeypatch):
    """The GNN scan's sparse gate (range/azimuth windows, pairs only) gives the very tracks
    of the dense n × k gate: 40 crossing targets in clutter, some sum-only detections, one
    target across the ±π azimuth seam; ids, confirmation, states and covariances equal."""
    from xband.track import tracker as tr_mod

    p = np.column_stack([np.linspace(-8000, 8000, 40), np.linspace(6000, 14000, 40),
                         np.full(40, 1500.0)])
    p[0] = [-1.0, -9000.0, 1000.0]                   # due south: azimuth ≈ ±π
    v = np.column_stack([np.linspace(150, -150, 40), np.full(40, -60.0), np.zeros(40)])
    radar = Radar(p_detection=0.9, false_alarms_per_scan=20.0)
    runs = []
    for sparse_min in (0, 10 ** 12):
        monkeypatch.setattr(tr_mod, "SPARSE_GATE_MIN", sparse_min)
        rng = np.random.default_rng(11)
        sensor = MeasurementModel(radar)
        tracker = Tracker(TrackerConfig(filter=flt))
        out = []
        for k in range(12):
            t = 0.5 * k
            dets = sensor.measure(t, p + v * t, v, np.ones(len(p)), rng)
            if len(dets) > 3:
                dets.az[::4] = np.nan                # sum-only detections
                dets.el[::4] = np.nan
            out.append(tracker.step(dets, t))
        runs.append((out, dict(tracker.stats)))
    (a, sa), (b, sb) = runs
    assert sa == sb and sa["updates"] > 200
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.confirmed, tb.confirmed)
        np.testing.assert_array_equal(ta.x, tb.x)
        np.testing.assert_array_equal(ta.P, tb.P)


def test_plots_without_range_rate_are_tracked(rng, backend):
    """Plots with no Doppler measurement (NaN range rate, e.g. a 3-D surveillance radar's
    CAT048 plots) gate, update and initiate on range and angles alone; the velocity comes
    from the position history."""
    p, v = np.array([[10000.0, 20000.0, 3000.0]]), np.array([[-200.0, 50.0, 0.0]])
    sig = np.array([10.0, 1e-3, 1e-3, 1.0])
    tracker = Tracker(TrackerConfig())
    for k in range(40):
        t = 0.5 * k
        z = sph_of(p + v * t, v) + rng.standard_normal((1, 4)) * sig
        R = np.diag(sig ** 2)[None].copy()
        z[:, 3] = np.nan
        R[:, 3, 3] = np.nan                  # the missing component's variance is ignored
        tracks = tracker.step(Detections(t=[t], range=z[:, 0], az=z[:, 1], el=z[:, 2],
                                         range_rate=z[:, 3], snr=[100.0], R=R), t)
    assert tracker.stats["rejected_nonfinite"] == 0 and tracker.stats["initiated"] == 1
    assert tracks.confirmed.all() and np.all(np.isfinite(tracks.x))
    assert np.linalg.norm(tracks.x[0, :3] - (p + v * t)[0]) < 60.0
    assert np.linalg.norm(tracks.x[0, 3:6] - v[0]) < 15.0
    # a present range rate without a finite variance is still rejected
    bad = Detections(t=[t + 0.5], range=[9000.0], az=[0.1], el=[0.1], range_rate=[5.0],
                     snr=[10.0], R=R)
    tracker.step(bad, t + 0.5)
    assert tracker.stats["rejected_nonfinite"] == 1


def test_bookkeeping_grows_keeps_ids_and_never_aliases(rng, backend):
    """Many initiations (past the bookkeeping block's first capacity) and deletions: ids
    unique, increasing with initiation and never reused; returned Tracks own their arrays."""
    tracker = Tracker(TrackerConfig())
    radar = Radar(false_alarms_per_scan=40.0)
    p = np.array([[6000.0, 7000.0, 1500.0]])
    v = np.array([[-120.0, -90.0, 0.0]])
    seen, last_max = set(), 0
    for tr, _ in _fly(rng, tracker, radar, p, v, 30):
        assert tr.confirmed.dtype == bool and tr.id.dtype == np.int64
        assert np.unique(tr.id).size == tr.id.size
        new = set(tr.id.tolist()) - seen
        assert all(i > last_max for i in new)           # fresh ids only, increasing
        last_max = max([last_max, *new])
        seen |= new
        before = tracker.id.copy()
        tr.id[:] = -1                                    # the caller's copy, not the state
        tr.confirmed[:] = True
        assert np.array_equal(tracker.id, before)
        assert tracker.confirmed.sum() <= 1            # only the one target confirms
    assert tracker.stats["initiated"] == last_max > 16 and tracker.stats["deleted"] > 0
    assert tracker._book.shape[1] >= tracker.bank.n == tracker.id.size


def test_filter_wrappers_lean_and_converting_paths_agree(rng, backend):
    """The wrappers' lean path (already contiguous float64) and their converting path
    (lists, float32, non-contiguous views, R shared as (m, m)) give the same bits; bad
    indices still raise."""
    from xband.track import filters
    from xband.track.models import cv_matrices

    F, Q = cv_matrices(0.1, 5.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([25.0, 16.0, 9.0])
    for n in (1, 7):
        x0 = rng.normal(size=(n, 6)) * 100
        P0 = np.tile(np.eye(6) * 50.0, (n, 1, 1))
        z = rng.normal(size=(n, 3)) * 100
        xa, Pa, xb, Pb = x0.copy(), P0.copy(), x0.copy(), P0.copy()
        filters.predict(xa, Pa, F, Q)
        filters.predict(xb, Pb, F.tolist(), np.asfortranarray(Q))
        ra = filters.update(xa, Pa, z, H, np.ascontiguousarray(np.broadcast_to(R, (n, 3, 3))))
        zz = np.empty((n, 6))[:, ::2]
        zz[:] = z
        rb = filters.update(xb, Pb, zz, H.astype(np.float32).astype(np.float64).tolist(), R)
        assert np.array_equal(xa, xb) and np.array_equal(Pa, Pb)
        for a, b in zip(ra, rb):
            assert np.array_equal(a, b)
    x = rng.normal(size=(5, 6)) * 1e3
    P = np.tile(np.eye(6) * 100.0, (5, 1, 1))
    zs = np.tile([5e3, 0.3, 0.1, 10.0], (2, 1))
    Rs = np.tile(np.diag([25.0, 1e-6, 1e-6, 1.0]), (2, 1, 1))
    for idx, msg in (([3, 3], "only once"), ([4, 5], "indices"), ([-1, 2], "indices")):
        with pytest.raises(InputError, match=msg):
            filters.update_spherical(x.copy(), P.copy(), np.array(idx), zs, Rs)
    # unsorted but unique indices are fine, and equal the sorted call row by row
    xa, Pa, xb, Pb = x.copy(), P.copy(), x.copy(), P.copy()
    zs2 = zs + [[0, 0, 0, 0], [100.0, 0.01, 0, 0]]
    na = filters.update_spherical(xa, Pa, [4, 1], zs2, Rs)[0]
    nb = filters.update_spherical(xb, Pb, np.array([1, 4]), zs2[::-1], Rs)[0]
    assert np.array_equal(xa, xb) and np.array_equal(Pa, Pb) and np.array_equal(na, nb[::-1])
    # a scalar gate and the same gate per detection
    g1 = filters.gate_spherical(x, P, zs2, Rs, 9.0)
    g2 = filters.gate_spherical(x, P, zs2, Rs, np.full(2, 9.0))
    assert np.array_equal(g1, g2)


@pytest.mark.parametrize("filt", ["ekf", "imm"])
def test_converted_measurement_update_tracks(rng, filt):
    """``[tracker] update = "cmkf"`` (track.converted) runs through the whole tracker."""
    from dataclasses import replace

    p, v = np.array([[8000.0, 12000.0, 2000.0]]), np.array([[-150.0, -100.0, 0.0]])
    tracker = Tracker(replace(TrackerConfig(), filter=filt, update="cmkf"))
    hist = _fly(rng, tracker, Radar(p_detection=1.0, false_alarms_per_scan=0.0), p, v, 60)
    tracks, pos = hist[-1]
    conf = tracks.take(tracks.confirmed)
    assert len(conf) == 1 and np.linalg.norm(conf.x[0, :3] - pos[0]) < 40.0
    assert np.linalg.norm(conf.x[0, 3:6] - v[0]) < 15.0

"""The whole-scan kernel (ext/scan.pyx, twin xband.reference.scan) and the tracker's one
call per scan.

* The compiled scan equals its numpy twin on the same bank and detections, scan after
  scan (states, covariances, mode probabilities, bookkeeping, counts), including
  detections with missing angles or range rate, non-finite ones, and azimuths around ±π
  (the compiled gate bins the detections in a range × azimuth grid).
* The tracker's one-call path (GNN + EKF updates, the default) makes the same decisions
  (ids, confirmation, statistics) with the same estimates as its per-stage path (one
  kernel call per stage, which JPDA and the UKF/CMKF updates use), for the CV EKF and
  the IMM, on crossing targets in clutter and on a large scene.
* Deep copies, an empty scan, a bank changed between scans, and non-finite detections.
"""
import copy
import sys
from pathlib import Path

import numpy as np
import pytest

from xband._ext import scan as c_scan
from xband.config import Tracker as TrackerConfig
from xband.reference import scan as r_scan
from xband.track.tracker import Tracker
from xband.types import Detections

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
import _peers_scene as scn  # noqa: E402

pytestmark = pytest.mark.reference_rerun


def _dets(t, z, sig=(30.0, 0.01, 0.01, 5.0)):
    z = np.asarray(z, float).reshape(-1, 4)
    R = np.tile(np.diag(np.square(sig)), (z.shape[0], 1, 1))
    return Detections(t=np.full(z.shape[0], t), range=z[:, 0], az=z[:, 1], el=z[:, 2],
                      range_rate=z[:, 3], snr=np.full(z.shape[0], 20.0), R=R)


def _scene_dets(rng, scans, n=12, clutter=8, wrap=False, holes=False):
    """Targets on straight lines (some around azimuth ±π with wrap) plus uniform clutter;
    with holes, some detections lose their angles, their range rate, or turn non-finite."""
    pos = rng.uniform(-20e3, 20e3, (n, 3))
    pos[:, 2] = rng.uniform(500, 5e3, n)
    if wrap:
        pos[:, 0] = rng.uniform(-300, 300, n)              # near north-south axis
        pos[:, 1] = -np.abs(pos[:, 1]) - 3e3               # due south: az ≈ ±π
    vel = rng.normal(0, 150, (n, 3))
    vel[:, 2] = 0
    out = []
    for s in range(scans):
        t = 1.0 * s
        p = pos + vel * t
        r = np.linalg.norm(p, axis=1)
        az = np.arctan2(p[:, 0], p[:, 1])
        el = np.arcsin(p[:, 2] / r)
        rr = np.sum(p * vel, axis=1) / r
        z = np.stack([r, az, el, rr], 1) + rng.normal(0, 1, (n, 4)) * [30, 0.01, 0.01, 5]
        z = z[rng.random(n) < 0.9]
        c = np.stack([rng.uniform(1e3, 30e3, clutter), rng.uniform(-np.pi, np.pi, clutter),
                      rng.uniform(0, 0.3, clutter), rng.uniform(-300, 300, clutter)], 1)
        z = np.concatenate([z, c])
        z[:, 1] = np.angle(np.exp(1j * z[:, 1]))
        if holes and len(z) > 6:
            z[0, 1:3] = np.nan                             # a sum-only detection
            z[1, 3] = np.nan                               # no Doppler
            z[2, 2] = np.inf                               # rejected
            z[3, 0] = np.nan                               # rejected (no range)
        out.append((t, z))
    return out


def _cfg(filt):
    return TrackerConfig(filter=filt, process_noise=50.0)


@pytest.mark.parametrize("filt", ["imm", "ekf"])
@pytest.mark.parametrize("kind", ["plain", "wrap", "holes"])
def test_compiled_scan_equals_twin(rng, filt, kind):
    """Drive two trackers' buffers through the compiled scan and the twin, scan by scan,
    from the same state, and compare everything they write."""
    scans = _scene_dets(rng, 8, wrap=kind == "wrap", holes=kind == "holes")
    tr = Tracker(_cfg(filt))
    for t, z in scans:
        n = tr._n
        cur = tr._bufs[tr._cur]
        state = [cur["x"][:n * tr._sd].copy(), cur["P"][:n * tr._sdd].copy(),
                 cur["mu"][:n].copy(), cur["cbar"][:n].copy(), cur["book"].copy()]
        dets = _dets(t, z)
        dt = t - tr.t if (tr.t is not None and n and t > tr.t) else 0.0
        F, Q = tr._matrices(dt if dt > 0 else 1.0)
        zz = np.ascontiguousarray(np.stack([dets.range, dets.az, dets.el, dets.range_rate], 1))
        res = []
        for mod in (c_scan, r_scan):
            st = [a.copy() for a in state]
            cap = n + zz.shape[0]
            out = tr._new_bufs(cap)
            xc, Pc = np.full((cap, tr._D), np.nan), np.full((cap, tr._D, tr._D), np.nan)
            counts = np.zeros(6, np.int64)
            scan = mod.GnnScan(*tr._scan.args)
            n2 = mod.scan_step(scan, *st, zz, dets.R, F, Q, dt, out["x"], out["P"], out["mu"],
                               out["cbar"], out["book"], xc, Pc, tr._next_id, counts)
            res.append((n2, counts, out, xc, Pc, st))
        (n2, cnt, out, xc, Pc, st), (m2, cnt_r, out_r, xc_r, Pc_r, st_r) = res
        assert n2 == m2
        np.testing.assert_array_equal(cnt, cnt_r)
        np.testing.assert_array_equal(out["book"][:, :n2], out_r["book"][:, :n2])
        for key, size in (("x", tr._sd), ("P", tr._sdd)):
            np.testing.assert_allclose(out[key][:n2 * size], out_r[key][:n2 * size],
                                       rtol=1e-9, atol=1e-6)
        for key in ("mu", "cbar"):
            np.testing.assert_allclose(out[key][:n2], out_r[key][:n2], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(xc[:n2], xc_r[:n2], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(Pc[:n2], Pc_r[:n2], rtol=1e-9, atol=1e-6)
        tr.step(dets, t)                                   # advance the real tracker
        np.testing.assert_array_equal(tr.id, out["book"][0, :n2])
    if kind == "holes":
        assert tr.stats["rejected_nonfinite"] == 2 * len(scans)


def _run(tracker, scans):
    return [tracker.step(_dets(t, z), t) for t, z in scans]


@pytest.mark.parametrize("filt", ["imm", "ekf"])
@pytest.mark.parametrize("kind", ["plain", "wrap", "holes"])
def test_one_call_path_equals_per_stage_path(rng, filt, kind):
    scans = _scene_dets(rng, 15, wrap=kind == "wrap", holes=kind == "holes")
    fast, slow = Tracker(_cfg(filt)), Tracker(_cfg(filt))
    slow._fast = False
    assert fast._fast
    a, b = _run(fast, scans), _run(slow, scans)
    assert fast.stats == slow.stats
    assert fast.stats["confirmed"] > 0 and fast.stats["deleted"] > 0
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.confirmed, tb.confirmed)
        np.testing.assert_allclose(ta.x, tb.x, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(ta.P, tb.P, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(ta.mode_probs, tb.mode_probs, rtol=1e-9, atol=1e-12)
    # the bank is kept in step with the kernel's buffers
    x, P, mu = fast.bank.estimate()
    np.testing.assert_allclose(x, a[-1].x, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(P, a[-1].P, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("filt", ["imm", "ekf"])
def test_large_scene_same_decisions(filt):
    """300 targets + 300 clutter (the grid gate with many cells): one call per scan and the
    per-stage path (its sparse windowed gate) agree."""
    from xband import _kernels

    if _kernels.backend() == "reference":
        pytest.skip("exercises the compiled grid gate; the numpy twin gates densely (minutes)")
    scene = scn.random_scene(300, 300.0, 5, seed=11)
    fast, slow = scn.xband_tracker(filt), scn.xband_tracker(filt)
    slow._fast = False
    for d, t in zip(scene.scans, scene.times):
        ta, tb = fast.step(d, float(t)), slow.step(d, float(t))
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.confirmed, tb.confirmed)
        np.testing.assert_allclose(ta.x, tb.x, rtol=1e-9, atol=1e-6)
    assert fast.stats == slow.stats


@pytest.mark.parametrize("state", ["after a scan", "bank accessed", "tracks()", "bank changed",
                                   "pickled"])
def test_copies_continue_identically(rng, state):
    """Deep copies (and pickles) taken with the bank lagging the kernel's buffers, synced
    to them, repacked by an estimate, or changed outside the kernel continue exactly as
    the original."""
    import pickle

    scans = _scene_dets(rng, 12)
    tr = Tracker(_cfg("imm"))
    _run(tr, scans[:6])
    if state == "bank accessed":
        assert tr.bank.n == tr.id.size
    elif state == "tracks()":
        tr.tracks()
    elif state == "bank changed":
        keep = np.ones(tr.bank.n, bool)
        keep[0] = False
        tr._keep(keep)
    twin = pickle.loads(pickle.dumps(tr)) if state == "pickled" else copy.deepcopy(tr)
    a, b = _run(tr, scans[6:]), _run(twin, scans[6:])
    for ta, tb in zip(a, b):
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.x, tb.x)
        np.testing.assert_array_equal(ta.P, tb.P)
    assert tr.stats == twin.stats


def test_empty_scan_and_outside_changes(rng):
    """An empty scan (prediction, ageing, deletion only) and a bank changed outside the
    scan kernel between scans (here: half the tracks dropped through the tracker's own
    per-stage bookkeeping) give what the per-stage path gives."""
    scans = _scene_dets(rng, 9)
    fast, slow = Tracker(_cfg("imm")), Tracker(_cfg("imm"))
    slow._fast = False
    for tr in (fast, slow):
        _run(tr, scans[:4])
    res = []
    for tr in (fast, slow):
        empty = tr.step(_dets(4.0, np.zeros((0, 4))), 4.0)
        keep = np.ones(tr.bank.n, bool)
        keep[::2] = False
        tr._keep(keep)
        res.append([empty] + _run(tr, scans[5:]))
    assert len(res[0][0].id) > 0
    for ta, tb in zip(*res):
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_allclose(ta.x, tb.x, rtol=1e-9, atol=1e-6)
    assert fast.stats == slow.stats
    x, P, _ = fast.bank.estimate()
    np.testing.assert_allclose(x, res[0][-1].x, rtol=1e-12, atol=1e-9)


def test_nonfinite_detections_never_touch_a_track():
    tr = Tracker(_cfg("imm"))
    z = [[10e3, 0.3, 0.05, -50.0], [12e3, np.inf, 0.05, 0.0], [np.nan, 0.1, 0.1, 0.0],
         [11e3, 0.2, 0.05, np.inf]]
    out = tr.step(_dets(0.0, z), 0.0)
    assert len(out.id) == 1 and tr.stats["rejected_nonfinite"] == 3
    out = tr.step(_dets(1.0, [[10e3 - 50, 0.3, 0.05, -50.0], [np.inf, 0.3, 0.05, -50.0]]), 1.0)
    assert np.all(np.isfinite(out.x)) and np.all(np.isfinite(out.P))
    assert tr.stats["rejected_nonfinite"] == 4 and tr.stats["updates"] == 1


@pytest.mark.parametrize("n_window", [31, 32, 40, 62])
def test_long_confirmation_window(rng, n_window):
    """M of N with N up to the 62 scans an int64 hit history holds, as the per-stage path."""
    scans = _scene_dets(rng, 12, clutter=0)
    cfg = TrackerConfig(filter="ekf", process_noise=50.0, confirm_m=9, confirm_n=n_window)
    fast, slow = Tracker(cfg), Tracker(cfg)
    slow._fast = False
    _run(fast, scans)
    _run(slow, scans)
    assert slow.stats["confirmed"] > 0 and fast.stats == slow.stats


def test_window_limits_are_checked():
    args = Tracker(_cfg("ekf"))._scan.args
    for mod in (c_scan, r_scan):
        with pytest.raises(ValueError, match="confirm_m <= confirm_n <= 62"):
            mod.GnnScan(*args[:8], 3, 63, *args[10:])


@pytest.mark.parametrize("fast", [True, False])
def test_nonfinite_covariance_and_time_are_rejected(fast):
    """A detection whose R has a non-finite covariance between present components is
    rejected like a non-finite variance (it would give a new track a NaN covariance); a
    non-finite scan time is an error."""
    from xband.errors import InputError

    tr = Tracker(_cfg("imm"))
    tr._fast = fast
    d = _dets(0.0, [[10e3, 0.3, 0.05, -50.0], [12e3, 0.5, 0.05, 10.0]])
    d.R[1, 0, 3] = d.R[1, 3, 0] = np.nan
    out = tr.step(d, 0.0)
    assert len(out.id) == 1 and tr.stats["rejected_nonfinite"] == 1
    assert np.all(np.isfinite(out.P))
    d = _dets(1.0, [[12e3, np.nan, np.nan, 10.0]])          # sum-only: R's angle rows unused
    d.R[0, 1, 2] = d.R[0, 2, 1] = np.nan
    tr.step(d, 1.0)
    assert tr.stats["rejected_nonfinite"] == 1
    for t in (np.inf, np.nan):
        with pytest.raises(InputError, match="finite"):
            tr.step(_dets(2.0, [[10e3, 0.3, 0.05, -50.0]]), t)


@pytest.mark.parametrize("filt", ["ekf", "imm"])
def test_seam_every_track_finds_its_detection(rng, filt):
    """Tracks just west of due south (az → +π) whose detections come back just east of it
    (az → −π), with position uncertainties from metres to kilometres: the grid gate must
    try the detection on the other side of the seam, so every track is updated."""
    n = 24
    r0 = rng.uniform(3e3, 25e3, n)
    off = rng.uniform(1e-4, 3e-3, n)
    z0 = np.stack([r0, np.pi - off, np.full(n, 0.05), np.zeros(n)], 1)
    z1 = np.stack([r0 + 1.0, -np.pi + off * 0.5, np.full(n, 0.05), np.zeros(n)], 1)
    for fast in (True, False):
        tr = Tracker(_cfg(filt))
        tr._fast = fast
        tr.step(_dets(0.0, z0, sig=(30.0, 0.002, 0.002, 5.0)), 0.0)
        tr.step(_dets(1.0, z1, sig=(30.0, 0.002, 0.002, 5.0)), 1.0)
        assert tr.stats["updates"] == n and tr.stats["initiated"] == n


@pytest.mark.parametrize("filt", ["ekf", "imm"])
def test_update_is_ekf_update_sph_to_the_bit(rng, filt):
    """With no prediction (dt = 0) a scan's update of an assigned track is kalman's
    spherical EKF update of each model to the bit (`_sph_joseph` leaves out only products
    by exact zeros of the Jacobian)."""
    from xband._ext import kalman as c_kalman

    tr = Tracker(_cfg(filt))
    tr.step(_dets(0.0, [[10e3, 0.3, 0.05, -50.0]], sig=(30.0, 0.01, 0.01, 5.0)), 0.0)
    tr.step(_dets(1.0, [[10e3 - 50.0, 0.3005, 0.0502, -50.0]], sig=(30.0, 0.01, 0.01, 5.0)),
            1.0)
    n = tr._n
    cur = tr._bufs[tr._cur]
    x, P = cur["x"][:n * tr._sd].copy(), cur["P"][:n * tr._sdd].copy()
    dets = _dets(1.0, [[10e3 - 52.0, 0.3004, 0.0501, -49.0]], sig=(25.0, 0.008, 0.009, 4.0))
    zz = np.ascontiguousarray(np.stack([dets.range, dets.az, dets.el, dets.range_rate], 1))
    out = tr._new_bufs(n + 1)
    xc, Pc = np.empty((n + 1, tr._D)), np.empty((n + 1, tr._D, tr._D))
    counts = np.zeros(6, np.int64)
    F, Q = tr._matrices(1.0)
    kern = c_scan.GnnScan(*tr._scan.args)          # the compiled one, whatever the backend
    c_scan.scan_step(kern, x.copy(), P.copy(), cur["mu"][:n].copy(),
                     cur["cbar"][:n].copy(), cur["book"].copy(), zz, dets.R, F, Q, 0.0,
                     out["x"], out["P"], out["mu"], out["cbar"], out["book"], xc, Pc, 99,
                     counts)
    assert counts[1] == 1 and n == 1
    o = op = 0
    for d in tr._scan.args[0]:
        d = int(d)
        xm, Pm = x[o:o + d].reshape(1, d).copy(), P[op:op + d * d].reshape(1, d, d).copy()
        nis, ll, st = np.empty(1), np.empty(1), np.empty(1, np.int8)
        c_kalman.ekf_update_sph(xm, Pm, np.zeros(1, np.int64), zz, dets.R, nis, ll, st)
        np.testing.assert_array_equal(out["x"][o:o + d], xm[0])
        np.testing.assert_array_equal(out["P"][op:op + d * d], Pm[0].ravel())
        o, op = o + d, op + d * d


def test_bank_access_keeps_the_buffers(rng):
    """Reading the bank between scans (tracks(), estimate) views the scan kernel's buffers
    and does not repack them, so the next scan needs no reload."""
    tr = Tracker(_cfg("imm"))
    for t, z in _scene_dets(rng, 4):
        tr.step(_dets(t, z), t)
        tr.tracks()
        assert tr._is_synced() and not tr._stale


def _dets_varied_R(rng, t, z):
    """Detections whose R differ per detection (σ scaled 0.3–3×) and are correlated (R =
    L Lᵀ, L = diag(σ)(I + 0.5·strictly-lower noise)): the grid gate's NIS lower bound
    (R̄ ⪰ every R_k, by Gershgorin) is then loose and not diagonal."""
    z = np.asarray(z, float).reshape(-1, 4)
    k = z.shape[0]
    sig = np.array([30.0, 0.01, 0.01, 5.0]) * rng.uniform(0.3, 3.0, (k, 1))
    L = np.eye(4) + 0.5 * np.tril(rng.normal(size=(k, 4, 4)), -1)
    L = sig[:, :, None] * L
    R = np.ascontiguousarray(L @ np.transpose(L, (0, 2, 1)))
    return Detections(t=np.full(k, t), range=z[:, 0], az=z[:, 1], el=z[:, 2],
                      range_rate=z[:, 3], snr=np.full(k, 20.0), R=R)


@pytest.mark.parametrize("filt", ["imm", "ekf"])
@pytest.mark.parametrize("holes", [False, True])
def test_gate_bound_with_varied_correlated_R(rng, filt, holes):
    """The grid gate's cheap rejections (per-component bounds, then yᵀS̄⁻¹y ≤ NIS with one
    Cholesky factor per track) keep exactly the dense gate's pairs: with per-detection,
    correlated R (and with detections missing components) the one-call path makes the
    per-stage path's decisions (its gate factors every pair) and equals the twin."""
    scans = [(t, _dets_varied_R(rng, t, z))
             for t, z in _scene_dets(rng, 12, n=20, clutter=25, holes=holes)]
    fast, slow = Tracker(_cfg(filt)), Tracker(_cfg(filt))
    slow._fast = False
    for t, dets in scans:
        n = fast._n
        cur = fast._bufs[fast._cur]
        state = [cur["x"][:n * fast._sd].copy(), cur["P"][:n * fast._sdd].copy(),
                 cur["mu"][:n].copy(), cur["cbar"][:n].copy(), cur["book"].copy()]
        dt = t - fast.t if (fast.t is not None and n and t > fast.t) else 0.0
        F, Q = fast._matrices(dt if dt > 0 else 1.0)
        zz = np.ascontiguousarray(np.stack([dets.range, dets.az, dets.el, dets.range_rate], 1))
        got = []
        for mod in (c_scan, r_scan):
            cap = n + zz.shape[0]
            out = fast._new_bufs(cap)
            xc, Pc = np.empty((cap, fast._D)), np.empty((cap, fast._D, fast._D))
            counts = np.zeros(6, np.int64)
            n2 = mod.scan_step(mod.GnnScan(*fast._scan.args), *[a.copy() for a in state], zz,
                               dets.R, F, Q, dt, out["x"], out["P"], out["mu"], out["cbar"],
                               out["book"], xc, Pc, fast._next_id, counts)
            got.append((n2, counts, out["book"][:, :n2].copy()))
        assert got[0][0] == got[1][0]
        np.testing.assert_array_equal(got[0][1], got[1][1])
        np.testing.assert_array_equal(got[0][2], got[1][2])
        ta, tb = fast.step(dets, t), slow.step(dets, t)
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.confirmed, tb.confirmed)
        np.testing.assert_allclose(ta.x, tb.x, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(ta.P, tb.P, rtol=1e-9, atol=1e-6)
    assert fast.stats == slow.stats
    assert fast.stats["updates"] > 0 and fast.stats["confirmed"] > 0


@pytest.mark.parametrize("filt", ["imm", "ekf"])
def test_avx2_scan_equals_baseline_bit_for_bit(monkeypatch, filt):
    """ext/isa/scan_avx2.pyx (the same source built with -mavx2, whose IMM prediction runs
    four-track structure-of-arrays blocks) gives the baseline build's bits, scan after scan
    (a 300 + 300 scene: every n mod 4 tail of the blocks over the scans)."""
    import importlib

    from xband import _kernels

    if _kernels.backend() == "reference":
        pytest.skip("compares two compiled builds")
    try:
        importlib.import_module("xband._ext.scan_avx2")
    except ImportError:
        pytest.skip("no AVX2 build of scan on this platform (x86-64 only)")
    if not _kernels._cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    scene = scn.random_scene(300, 300.0, 6, seed=5)
    runs = {}
    for isa in ("avx2", "baseline"):
        monkeypatch.setenv("XBAND_ISA", isa)
        _kernels.set_backend("cython")
        tr = scn.xband_tracker(filt)
        assert type(tr._scan).__module__ == ("xband._ext.scan_avx2" if isa == "avx2"
                                              else "xband._ext.scan")
        runs[isa] = [tr.step(d, float(t)) for d, t in zip(scene.scans, scene.times)]
        runs[isa + " stats"] = dict(tr.stats)
    monkeypatch.delenv("XBAND_ISA")
    _kernels.set_backend()
    assert runs["avx2 stats"] == runs["baseline stats"]
    for ta, tb in zip(runs["avx2"], runs["baseline"]):
        np.testing.assert_array_equal(ta.id, tb.id)
        np.testing.assert_array_equal(ta.x, tb.x)
        np.testing.assert_array_equal(ta.P, tb.P)
        np.testing.assert_array_equal(ta.mode_probs, tb.mode_probs)


@pytest.mark.parametrize("mod", [c_scan, r_scan], ids=["compiled", "twin"])
def test_scan_bound_equals_scan_step_and_checks_its_binding(rng, mod):
    """scan_bound (the buffers bound once) writes what scan_step writes on the same
    arrays; it refuses to run unbound, on a bad slot or with too few tracks in the slot."""
    tr = Tracker(_cfg("imm"))
    for t, z in _scene_dets(rng, 4):
        tr.step(_dets(t, z), t)
    n, cur = tr._n, tr._cur
    dets = _dets(5.0, _scene_dets(rng, 5)[-1][1])
    zz = np.ascontiguousarray(np.stack([dets.range, dets.az, dets.el, dets.range_rate], 1))
    F, Q = tr._matrices(0.5)
    res = []
    for how in ("step", "bound"):
        b = [{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in tr._bufs[i].items()}
             for i in (0, 1)]
        out = b[1 - cur]
        cap = n + len(zz)
        if out["cap"] < cap:
            out = b[1 - cur] = tr._new_bufs(cap)
        xc, Pc = np.full((cap, tr._D), np.nan), np.full((cap, tr._D, tr._D), np.nan)
        counts = np.zeros(6, np.int64)
        scan = mod.GnnScan(*tr._scan.args)
        if how == "step":
            c = b[cur]
            n2 = mod.scan_step(scan, c["x"][:n * tr._sd], c["P"][:n * tr._sdd], c["mu"][:n],
                               c["cbar"][:n], c["book"], zz, dets.R, F, Q, 0.5, out["x"],
                               out["P"], out["mu"], out["cbar"], out["book"], xc, Pc, 100,
                               counts)
        else:
            with pytest.raises(ValueError, match="bind_buffers"):
                mod.scan_bound(scan, cur, n, zz, dets.R, 0.5, xc, Pc, 100)
            scan.bind_buffers(*(b[0][k] for k in ("x", "P", "mu", "cbar", "book")),
                              *(b[1][k] for k in ("x", "P", "mu", "cbar", "book")), counts,
                              "key")
            with pytest.raises(ValueError, match="bind_matrices"):
                mod.scan_bound(scan, cur, n, zz, dets.R, 0.5, xc, Pc, 100)
            scan.bind_matrices(F, Q, "fq")
            assert (scan.bound, scan.bound_matrices) == ("key", "fq")
            with pytest.raises(ValueError, match="slot"):
                mod.scan_bound(scan, 2, n, zz, dets.R, 0.5, xc, Pc, 100)
            with pytest.raises(ValueError, match="fewer than"):
                mod.scan_bound(scan, cur, b[cur]["mu"].shape[0] + 1, zz, dets.R, 0.5, xc, Pc,
                               100)
            with pytest.raises(ValueError, match="F and Q"):
                scan.bind_matrices(F[:-1], Q, "fq")
            n2 = mod.scan_bound(scan, cur, n, zz, dets.R, 0.5, xc, Pc, 100)
        res.append((n2, counts, xc[:n2], Pc[:n2], out["x"], out["P"], out["mu"],
                    out["book"][:, :n2]))
    assert res[0][0] == res[1][0] > 0
    for a, b in zip(res[0][1:], res[1][1:]):
        np.testing.assert_array_equal(a, b)


def test_pickle_names_no_kernel_build(rng):
    """A pickled tracker holds the scan's constants, not its compiled class (an AVX2 build's
    pickle must load where only the baseline build runs), and continues identically."""
    import pickle

    scans = _scene_dets(rng, 8)
    tr = Tracker(_cfg("imm"))
    for t, z in scans[:4]:
        tr.step(_dets(t, z), t)
    blob = pickle.dumps(tr)
    assert b"_ext.scan" not in blob and b"reference.scan" not in blob
    tr2 = pickle.loads(blob)
    for t, z in scans[4:]:
        a, b = tr.step(_dets(t, z), t), tr2.step(_dets(t, z), t)
        np.testing.assert_array_equal(a.id, b.id)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.P, b.P)
    assert tr.stats == tr2.stats

"""Batched KF predict and spherical EKF update: compiled kernel vs numpy twin, same input.

Read the group "kf_predict n=…": the two rows are the same call on the same arrays; the
ratio of their means is the speed-up. Per-track time = mean / n.
"""
import numpy as np
import pytest

from xband.track.models import cv_matrices

from conftest import sizes


def _batch(rng, n):
    x = np.empty((n, 6))
    x[:, :3] = rng.uniform(-2e4, 2e4, (n, 3))
    x[:, 3:] = rng.uniform(-300, 300, (n, 3))
    P = np.tile(np.diag([100.0, 100, 100, 25, 25, 25]), (n, 1, 1))
    return x, P


@pytest.mark.parametrize("n", sizes(1, 100, 10_000, short=(1, 100)))
def test_kf_predict(benchmark, impl, rng, n):
    kind, load = impl
    k = load("kalman")
    x, P = _batch(rng, n)
    F, Q = cv_matrices(0.05, 10.0)
    benchmark.group = f"kf_predict n={n}"
    benchmark.extra_info.update(n=n, backend=kind)
    benchmark(k.kf_predict, x, P, F, Q)


@pytest.mark.parametrize("n", sizes(1, 100, 10_000, short=(1, 100)))
def test_ekf_update_sph(benchmark, impl, rng, n):
    kind, load = impl
    k, c = load("kalman"), load("coords")
    x, P = _batch(rng, n)
    z = np.empty((n, 4))
    c.cart_to_sph(np.ascontiguousarray(x[:, :3]), np.ascontiguousarray(x[:, 3:]), z)
    z += rng.normal(size=(n, 4)) * [5, 1e-3, 1e-3, 1]
    R = np.tile(np.diag([25.0, 1e-6, 1e-6, 1.0]), (n, 1, 1))
    idx = np.arange(n, dtype=np.int64)
    nis, ll, st = np.empty(n), np.empty(n), np.empty(n, np.int8)
    x0, P0 = x.copy(), P.copy()

    def run():
        x[:] = x0
        P[:] = P0
        k.ekf_update_sph(x, P, idx, z, R, nis, ll, st)

    benchmark.group = f"ekf_update_sph n={n}"
    benchmark.extra_info.update(n=n, backend=kind)
    benchmark(run)


@pytest.mark.parametrize("n", sizes(10, 100, short=(10,)))
def test_sph_gate(benchmark, impl, rng, n):
    kind, load = impl
    k = load("kalman")
    x, P = _batch(rng, n)
    z = np.column_stack([rng.uniform(1e3, 3e4, n), rng.uniform(-3, 3, n), rng.uniform(0, 1, n),
                         rng.uniform(-300, 300, n)])
    R = np.tile(np.diag([25.0, 1e-6, 1e-6, 1.0]), (n, 1, 1))
    out, ll = np.empty((n, n)), np.empty((n, n))
    benchmark.group = f"sph_gate {n}x{n}"
    benchmark.extra_info.update(n=n, backend=kind)
    gate = np.full(n, 18.47)                  # χ²₄ at 0.999
    benchmark(k.sph_gate, x, P, z, R, gate, out, ll)


@pytest.mark.parametrize("n", sizes(10, 100, short=(10,)))
def test_sph_gate_pairs(benchmark, impl, rng, n):
    """The sparse gate on the same input as test_sph_gate (same group): the range-window
    pre-gate and pair list instead of the n × n matrices (what the GNN tracker calls)."""
    kind, load = impl
    k = load("kalman")
    x, P = _batch(rng, n)
    z = np.column_stack([rng.uniform(1e3, 3e4, n), rng.uniform(-3, 3, n), rng.uniform(0, 1, n),
                         rng.uniform(-300, 300, n)])
    R = np.tile(np.diag([25.0, 1e-6, 1e-6, 1.0]), (n, 1, 1))
    order = np.argsort(z[:, 0]).astype(np.int64)
    order_az = np.argsort(z[:, 1]).astype(np.int64)
    cap = 4 * n + 16
    ti, dj = np.empty(cap, np.int64), np.empty(cap, np.int64)
    nis, ll = np.empty(cap), np.empty(cap)
    benchmark.group = f"sph_gate {n}x{n}"
    benchmark.extra_info.update(n=n, backend=f"{kind} pairs")
    gate = np.full(n, 18.47)                  # χ²₄ at 0.999
    benchmark(k.sph_gate_pairs, x, P, z, R, gate, order, n, order_az, n, ti, dj, nis, ll)


def test_kf_cycle_single_track(benchmark):
    """One track per call (n = 1): KF predict + position update through ``track.filters``
    (the public, validating wrappers) vs the bare compiled kernels on the same arrays
    (group "kf single track"). The difference is the wrappers' checks and allocations."""
    from xband.track import filters

    F, Q = cv_matrices(0.05, 10.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    x, P = np.zeros((1, 6)), np.eye(6)[None] * 100.0
    z, R = np.array([[1.0, 2.0, 3.0]]), np.diag([25.0, 25.0, 25.0])[None]

    def run():
        filters.predict(x, P, F, Q)
        filters.update(x, P, z, H, R)

    benchmark.group = "kf single track (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="track.filters")
    benchmark(run)


def test_kf_cycle_single_track_bare(benchmark):
    """The same cycle as test_kf_cycle_single_track on the compiled kernels directly."""
    k = pytest.importorskip("xband._ext.kalman")
    F, Q = cv_matrices(0.05, 10.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    x, P = np.zeros((1, 6)), np.eye(6)[None] * 100.0
    z, R = np.array([[1.0, 2.0, 3.0]]), np.diag([25.0, 25.0, 25.0])[None]
    nis, ll, st = np.empty(1), np.empty(1), np.empty(1, np.int8)

    def run():
        k.kf_predict(x, P, F, Q)
        k.kf_update(x, P, z, H, R, nis, ll, st)

    benchmark.group = "kf single track (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="bare kernels")
    benchmark(run)


def _single():
    F, Q = cv_matrices(0.05, 10.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    x, P = np.zeros((1, 6)), np.eye(6)[None] * 100.0
    z, R = np.array([[1.0, 2.0, 3.0]]), np.diag([25.0, 25.0, 25.0])[None]
    return F, Q, H, x, P, z, R


@pytest.mark.parametrize("out", [False, True])
def test_kf_step_single_track(benchmark, out):
    """The same cycle in one call: ``track.filters.step`` (fused predict + update, arrays
    through numpy's C API, the kernel's own checks; bit-identical results), returning new
    (nis, loglik, status) arrays, or (``out``) writing the caller's."""
    from xband.track import filters

    F, Q, H, x, P, z, R = _single()
    benchmark.group = "kf single track (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="track.filters.step" + (" out=" if out else ""))
    if out:
        bufs = (np.empty(1), np.empty(1), np.empty(1, np.int8))
        benchmark(lambda: filters.step(x, P, F, Q, z, H, R, out=bufs))
    else:
        benchmark(filters.step, x, P, F, Q, z, H, R)


def test_kf_step_single_track_bare(benchmark):
    """The compiled ``kf_step`` directly, caller's output arrays."""
    k = pytest.importorskip("xband._ext.kalman")
    F, Q, H, x, P, z, R = _single()
    nis, ll, st = np.empty(1), np.empty(1), np.empty(1, np.int8)
    benchmark.group = "kf single track (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="bare kf_step")
    benchmark(k.kf_step, x, P, F, Q, z, H, R, nis, ll, st)


def test_kf_single_track_filterpy(benchmark):
    """The peer on the same cycle: FilterPy's predict() + update(z) on one KalmanFilter."""
    kalman = pytest.importorskip("filterpy.kalman")
    F, Q, H, x, P, z, R = _single()
    kf = kalman.KalmanFilter(dim_x=6, dim_z=3)
    kf.F, kf.Q, kf.H, kf.R = F, Q, H, R[0]
    kf.x, kf.P = x[0].copy(), P[0].copy()
    z1 = z[0].copy()

    def run():
        kf.predict()
        kf.update(z1)

    benchmark.group = "kf single track (predict+update), per call"
    benchmark.extra_info.update(n=1, backend="filterpy")
    benchmark(run)


@pytest.mark.parametrize("n", sizes(100, 10_000, short=(100,)))
@pytest.mark.parametrize("how", ["predict+update", "step"])
def test_kf_cycle_batched(benchmark, rng, n, how):
    """Batched cycle per track (mean / n) through ``track.filters``: the two calls vs
    ``step`` on the same arrays (group "kf cycle batched n=…")."""
    from xband.track import filters

    F, Q, H, _, _, _, R = _single()
    x, P = _batch(rng, n)
    z = x[:, :3] + rng.normal(size=(n, 3)) * 5
    Rb = np.ascontiguousarray(np.broadcast_to(R, (n, 3, 3)))

    def two():
        filters.predict(x, P, F, Q)
        filters.update(x, P, z, H, Rb)

    benchmark.group = f"kf cycle batched n={n}"
    benchmark.extra_info.update(n=n, backend=how)
    if how == "step":
        benchmark(filters.step, x, P, F, Q, z, H, Rb)
    else:
        benchmark(two)


# ----------------------------------------------------------------------------- --compare
def _compare(path: str) -> None:
    """Side by side in one process: ``track.filters`` and the whole ``Tracker`` of another
    copy of the package (a directory holding a renamed copy of src/xband, e.g.
    /tmp/before/xband_before) vs this tree's, alternating, medians; asserts identical
    results (x, P, NIS, log-likelihoods, status; every scan's Tracks and the stats)."""
    import copy
    import importlib
    import os
    import sys
    import time
    import timeit

    import _peers_scene as scn
    from xband.config import Tracker as TrackerConfig
    from xband.track import filters as fa
    from xband.track.tracker import Tracker

    path = os.path.abspath(path)
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.basename(path)
    fb = importlib.import_module(f"{name}.track.filters")
    TrackerB = importlib.import_module(f"{name}.track.tracker").Tracker
    ConfigB = importlib.import_module(f"{name}.config").Tracker

    F, Q = cv_matrices(0.05, 10.0)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([25.0] * 3)
    rng = np.random.default_rng(1)
    for n in (1, 100, 10_000):
        x0 = rng.normal(size=(n, 6))
        P0 = np.tile(np.eye(6) * 100, (n, 1, 1))
        z = rng.normal(size=(n, 3))
        Rb = np.ascontiguousarray(np.broadcast_to(R, (n, 3, 3)))
        got = []
        for f in (fb, fa):
            x, P = x0.copy(), P0.copy()
            f.predict(x, P, F, Q)
            got.append([x, P, *f.update(x, P, z, H, Rb)])
        assert all(np.array_equal(a, b) for a, b in zip(*got)), f"KF results differ at n={n}"
        num, times = max(1, 400 // n), ([], [])
        for _ in range(60 if n < 10_000 else 15):
            for f, acc in zip((fb, fa), times):
                x, P = x0.copy(), P0.copy()
                acc.append(timeit.timeit(lambda: (f.predict(x, P, F, Q),
                                                  f.update(x, P, z, H, Rb)), number=num)
                           / num / n * 1e6)
        b, a = np.median(times[0]), np.median(times[1])
        print(f"KF predict+update via track.filters, n = {n}: {b:.3f} -> {a:.3f} us per "
              f"track (best {min(times[0]):.3f} -> {min(times[1]):.3f}), x{b / a:.2f}, "
              f"identical")

    cases = {"10+10": (10, 10.0, 30, 10, 200), "50+50": (50, 50.0, 20, 8, 100)}
    for case, (n, clutter, scans, warm, rounds) in cases.items():
        scene = scn.random_scene(n, clutter, scans)
        for kw in (dict(filter="ekf"), dict(filter="imm"),
                   dict(filter="imm", association="jpda"), dict(filter="ekf", update="ukf")):
            a, b = Tracker(TrackerConfig(**kw)), TrackerB(ConfigB(**kw))
            for k in range(scans):
                ta = a.step(scene.scans[k], float(scene.times[k]))
                tb = b.step(scene.scans[k], float(scene.times[k]))
                for fld in ("id", "t", "x", "P", "confirmed", "mode_probs"):
                    assert np.array_equal(getattr(ta, fld), getattr(tb, fld),
                                          equal_nan=True), (case, kw, k, fld)
                if k == warm - 1:
                    sa, sb = copy.deepcopy(a), copy.deepcopy(b)
            assert a.stats == b.stats, (case, kw, a.stats, b.stats)
            line = f"tracker {case} {kw}: identical tracks, ids, states and stats"
            if len(kw) == 1:
                d, t = scene.scans[warm], float(scene.times[warm])
                times = ([], [])
                for _ in range(rounds):
                    for snap, acc in zip((sb, sa), times):
                        s = copy.deepcopy(snap)
                        t0 = time.perf_counter()
                        s.step(d, t)
                        acc.append(time.perf_counter() - t0)
                b_, a_ = np.median(times[0]) * 1e3, np.median(times[1]) * 1e3
                line += (f"; scan {b_:.3f} -> {a_:.3f} ms (best {min(times[0]) * 1e3:.3f} -> "
                         f"{min(times[1]) * 1e3:.3f}), x{b_ / a_:.2f}")
            print(line, flush=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=_compare.__doc__)
    ap.add_argument("--compare", required=True, metavar="DIR",
                    help="a renamed copy of src/xband (e.g. /tmp/before/xband_before)")
    _compare(ap.parse_args().compare)

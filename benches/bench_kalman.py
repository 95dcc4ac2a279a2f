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

"""xband vs FilterPy on identical matrices and measurements: one KF predict+update.

FilterPy updates one filter object per call; xband updates a batch of n tracks in one call.
Compare the per-track time (mean / n) of the "kf cycle" group.
"""
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

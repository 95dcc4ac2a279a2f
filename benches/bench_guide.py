"""Guidance commands and the plant stepper: compiled vs numpy twin on the same batch.

engage_propagate: n runs × 100 RK4 steps per call; steps/s = n·100 / mean.
"""
import numpy as np
import pytest

from conftest import sizes


@pytest.mark.parametrize("n", sizes(1, 1000, short=(1, 1000)))
def test_guidance_command(benchmark, impl, rng, n):
    kind, load = impl
    g = load("guidance")
    rp, rv, mv = (rng.normal(size=(n, 3)) * s for s in (5e3, 500, 500))
    a, tg, s = np.empty((n, 3)), np.empty(n), np.empty(n, np.uint8)
    benchmark.group = f"guidance_command n={n}"
    benchmark.extra_info.update(n=n, backend=kind)
    benchmark(g.guidance_command, rp, rv, mv, 2, 4.0, 300.0, a, tg, s)


@pytest.mark.parametrize("n", sizes(1, 1000, short=(1, 100)))
def test_engage_propagate(benchmark, impl, rng, n):
    kind, load = impl
    e = load("engage")
    m0 = np.zeros((n, 9))
    m0[:, 3] = 600.0
    tg0 = np.zeros((n, 9))
    tg0[:, 0:3] = rng.uniform(5e4, 6e4, (n, 3))       # far: no run finishes in the call
    tg0[:, 3:6] = -300.0
    a = rng.normal(size=(n, 3)) * 50
    m, tg = m0.copy(), tg0.copy()
    done, cpa = np.zeros(n, np.uint8), np.zeros((n, 2))

    def run():
        m[:] = m0
        tg[:] = tg0
        e.propagate(m, tg, a, 0.2, 1e-3, 100, 0.0, done, cpa)

    benchmark.group = f"engage_propagate n={n} x100 steps"
    benchmark.extra_info.update(n=n, steps=100, backend=kind)
    benchmark(run)
    assert not done.any()

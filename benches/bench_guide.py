"""Guidance commands, the plant stepper and the batched closed-loop stepper: compiled vs
numpy twin on the same input, side by side; Monte Carlo campaigns.

engage_propagate: n runs × 100 RK4 steps per call; steps/s = n·100 / mean.
flyout: n engagements × S closed-loop steps per call (PN, first-order lag τ = 0.2 s, 30 g
limit, RK4, 1 kHz plant; guidance every step or at 100 Hz); steps/s = n·S / mean
(``extra_info["steps_per_s"]``).
campaign: N runs of a ~10 s flight at 1 kHz (guidance 100 Hz), on every core.

    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_guide.py \
        --benchmark-only --benchmark-group-by=group --benchmark-columns=min,mean,rounds
"""
import numpy as np
import pytest

from conftest import SHORT, sizes

from xband import _kernels
from xband.guide import montecarlo as mc
from xband.guide.engagement import G0, Guidance, lag_matrices


@pytest.mark.parametrize("n", sizes(1, 1000, short=(1, 1000)))
def test_guidance_command(benchmark, impl, rng, n):
    kind, load = impl
    g = load("guidance")
    rp, rv, mv, ma, ta = (rng.normal(size=(n, 3)) * s for s in (5e3, 500, 500, 50, 30))
    a, tg, s = np.empty((n, 3)), np.empty(n), np.empty(n, np.uint8)
    benchmark.group = f"guidance_command n={n}"
    benchmark.extra_info.update(n=n, backend=kind)
    benchmark(g.guidance_command, rp, rv, mv, ma, ta, 2, 4.0, 0.0, 300.0, a, tg, s)


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


@pytest.mark.parametrize("g_every", [1, 10])
@pytest.mark.parametrize("n", sizes(4096, short=(1024,)))
def test_flyout(benchmark, impl, rng, n, g_every):
    kind, load = impl
    f = load("flyout")
    steps = 200
    dt = 1e-3
    phi, gam, gg = lag_matrices(0.2, 1, dt, "rk4")
    M0 = np.zeros((9, n))
    M0[4] = 900.0
    M0[3] = rng.normal(size=n) * 50
    T0 = np.zeros((6, n))
    T0[1] = 1e5                                       # far: every run flies the whole call
    T0[0] = rng.uniform(-1e3, 1e3, n)
    T0[4] = -300.0
    MAN = np.zeros((6, n))
    M, T, AC = M0.copy(), T0.copy(), np.zeros((3, n))
    st, tc, ms, stats = np.zeros(n, np.uint8), np.zeros(n), np.zeros(n), np.zeros((3, n))

    def run():
        M[:] = M0
        T[:] = T0
        f.fly(M, T, AC, MAN, phi, gam, gg, 1, 4.0, 0.2, 30 * G0, 0.0, 0, 1, g_every, dt, 0,
              steps, st, tc, ms, stats)

    benchmark.group = f"flyout PN lag RK4 30g n={n} x{steps} steps, guidance every {g_every}"
    benchmark.extra_info.update(n=n, steps=steps, backend=kind, g_every=g_every)
    benchmark.pedantic(run, rounds=3 if kind == "reference" else 10, iterations=1,
                       warmup_rounds=1)
    benchmark.extra_info["steps_per_s"] = n * steps / benchmark.stats.stats.min
    assert not st.any()


def _campaign(runs):
    g = Guidance(law="pn", nav_ratio=4.0, lag=0.2, accel_limit=30 * G0, plant_hz=1000.0,
                 guidance_hz=100.0)
    return mc.Campaign(guidance=g, m_pos=(0, 0, 0), speed=900.0, t_pos=(0.0, 12000.0, 0.0),
                       t_vel=(0.0, -300.0, 0.0), heading_error=0.1, duration=12.0, runs=runs,
                       seed=1, sigma_pos=50.0)


@pytest.mark.parametrize("runs", sizes(1000, 10000, short=(1000,)))
def test_campaign(benchmark, impl, runs):
    """A 1,000- or 10,000-run campaign of a 10 s flight at 1 kHz, all cores."""
    kind, _ = impl
    if kind == "reference" and (runs > 1000 or SHORT):
        pytest.skip("the numpy twin takes minutes here")
    before = _kernels._state["mode"]
    _kernels.set_backend(kind)
    try:
        c = _campaign(runs)
        benchmark.group = f"campaign {runs} runs x 10 s at 1 kHz"
        benchmark.extra_info.update(runs=runs, backend=kind)
        res = benchmark.pedantic(mc.run_local, args=(c,), rounds=1 if kind == "reference" else 3,
                                 iterations=1)
        assert np.all(res["status"] == 1)
        steps = float(np.sum(np.ceil(res["t_closest_s"] * 1000.0)))
        benchmark.extra_info["steps_per_s"] = steps / benchmark.stats.stats.min
    finally:
        _kernels.set_backend(before)

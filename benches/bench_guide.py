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
import os

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


# ---- instruction-set variants of the batched stepper (opt-in: XBAND_BENCH_ISA=1) ------
# setup.py compiles without -march (SSE2 on x86-64). This builds the same ext/flyout.c
# with wider vector ISAs into a temporary folder and times them with the build and the
# numpy twin side by side on the same input, to size a -march / function-multiversioning
# proposal. Needs gcc and the CPU features; variants the CPU lacks are skipped.
ISA = {"sse2": [], "avx2": ["-mavx2"], "avx2+fma": ["-mavx2", "-mfma"],
       "x86-64-v4": ["-march=x86-64-v4", "-mprefer-vector-width=512"]}


def _build_isa(tmp, flags):
    import importlib.machinery
    import importlib.util
    import subprocess
    import sysconfig
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    so = tmp / ("flyout" + sysconfig.get_config_var("EXT_SUFFIX"))
    cmd = ["gcc", "-shared", "-fPIC", "-DNDEBUG", "-fwrapv", "-O3", "-fno-math-errno",
           "-fno-trapping-math", "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION",
           f"-I{np.get_include()}", f"-I{root / 'ext'}",
           f"-I{sysconfig.get_paths()['include']}", *flags, str(root / "ext" / "flyout.c"),
           "-o", str(so)]
    subprocess.run(cmd, check=True, capture_output=True)
    name = f"isa_{abs(hash(tuple(flags)))}.flyout"
    loader = importlib.machinery.ExtensionFileLoader(name, str(so))
    mod = importlib.util.module_from_spec(importlib.util.spec_from_file_location(
        name, str(so), loader=loader))
    loader.exec_module(mod)
    return mod


@pytest.mark.skipif(os.environ.get("XBAND_BENCH_ISA") != "1",
                    reason="XBAND_BENCH_ISA=1 to build and time the ISA variants")
@pytest.mark.parametrize("g_every", [1, 10])
@pytest.mark.parametrize("isa", list(ISA) + ["numpy"])
def test_flyout_isa(benchmark, tmp_path_factory, rng, isa, g_every):
    cpu = open("/proc/cpuinfo").read()
    need = {"avx2": "avx2", "avx2+fma": "fma", "x86-64-v4": "avx512f"}.get(isa)
    if need and f" {need}" not in cpu:
        pytest.skip(f"this CPU has no {need}")
    if isa == "numpy":
        from xband.reference import flyout as f
    else:
        f = _build_isa(tmp_path_factory.mktemp(isa.replace("+", "_")), ISA[isa])
    n, steps, dt = 4096, 200, 1e-3
    phi, gam, gg = lag_matrices(0.2, 1, dt, "rk4")
    M0 = np.zeros((9, n))
    M0[4] = 900.0
    M0[3] = rng.normal(size=n) * 50
    T0 = np.zeros((6, n))
    T0[1] = 1e5
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

    benchmark.group = f"flyout ISA variants n={n} x{steps} steps, guidance every {g_every}"
    benchmark.extra_info.update(n=n, steps=steps, isa=isa, g_every=g_every)
    benchmark.pedantic(run, rounds=3 if isa == "numpy" else 15, iterations=1, warmup_rounds=1)
    benchmark.extra_info["steps_per_s"] = n * steps / benchmark.stats.stats.min


def isa_side_by_side(rounds: int = 15) -> None:
    """The ISA variants and the numpy twin interleaved round by round in this process (the
    fairest ratio on a loaded machine): ``python benches/bench_guide.py --isa``."""
    import tempfile
    import time
    from pathlib import Path

    from xband.reference import flyout as ref

    cpu = open("/proc/cpuinfo").read()
    need = {"avx2": "avx2", "avx2+fma": "fma", "x86-64-v4": "avx512f"}
    tmp = Path(tempfile.mkdtemp(prefix="xband-isa-"))
    mods = {}
    for k, flags in ISA.items():
        if k in need and f" {need[k]}" not in cpu:
            continue
        d = tmp / k.replace("+", "_")
        d.mkdir()
        mods[k] = _build_isa(d, flags)
    rng = np.random.default_rng(1)
    n, steps, dt = 4096, 200, 1e-3
    phi, gam, gg = lag_matrices(0.2, 1, dt, "rk4")
    M0 = np.zeros((9, n))
    M0[4] = 900.0
    M0[3] = rng.normal(size=n) * 50
    T0 = np.zeros((6, n))
    T0[1] = 1e5
    T0[0] = rng.uniform(-1e3, 1e3, n)
    T0[4] = -300.0
    MAN = np.zeros((6, n))

    def once(f, g_every):
        M, T, AC = M0.copy(), T0.copy(), np.zeros((3, n))
        st, tc, ms, stats = np.zeros(n, np.uint8), np.zeros(n), np.zeros(n), np.zeros((3, n))
        t0 = time.perf_counter()
        f.fly(M, T, AC, MAN, phi, gam, gg, 1, 4.0, 0.2, 30 * G0, 0.0, 0, 1, g_every, dt, 0,
              steps, st, tc, ms, stats)
        return time.perf_counter() - t0, M

    for g_every in (1, 10):
        best, out = {k: float("inf") for k in mods}, {}
        for _ in range(rounds):
            for k, f in mods.items():
                t, out[k] = once(f, g_every)
                best[k] = min(best[k], t)
        tr = min(once(ref, g_every)[0] for _ in range(2))
        print(f"PN, lag 0.2 s, 30 g, RK4, {n} runs x {steps} steps, guidance every {g_every} "
              f"step(s): numpy twin {n * steps / tr / 1e6:.2f} M steps/s")
        for k in mods:
            d = float(np.max(np.abs(out[k] - out["sse2"])))
            print(f"  {k:10s} {n * steps / best[k] / 1e6:6.1f} M steps/s  {tr / best[k]:6.1f}x "
                  f"numpy  {best['sse2'] / best[k]:4.2f}x sse2  max|state - sse2| {d:.1e}")


if __name__ == "__main__":
    import sys

    if "--isa" in sys.argv:
        isa_side_by_side()
    else:
        print("usage: python benches/bench_guide.py --isa   (or run it under pytest)")

"""Monte Carlo campaigns of engagements: per-run seeds from one root seed, batched
flights in the compiled stepper, local process parallelism or a Dask cluster.

A ``Campaign`` is a nominal engagement (``Guidance`` + initial geometry, from a scenario
file or the CLI) plus dispersions. Run i draws its own random quantities from
``SeedSequence(seed, spawn_key=(i,))`` — the i-th child of ``SeedSequence(seed).spawn`` —
so a run's result depends only on the root seed and its index: not on the chunking, the
number of processes, or whether it ran locally or on Dask (every run's arithmetic in the
stepper is independent of the others in its batch).

Per-run dispersions: heading error + N(0, σ_HE²); target position + N(0, σ_p²) per axis;
maneuver start + U(0, start_spread); weave phase U(0, 2π) (weave only).

Guidance on truth runs in the batched stepper (chunks of ``CHUNK`` runs per kernel call).
Guidance on ``noisy`` or ``track`` needs the whole sensor/tracker chain: each run is then a
``xband.pipeline.run`` of the scenario with the run's seed and dispersions (slow: about a
second per run; still parallel).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .engagement import STATUS, Guidance, Salvo
from .plant import collision_course, rotate_about_z

CHUNK = 256
FIELDS = ("status", "miss_m", "t_closest_s", "max_accel_cmd", "saturated_commands",
          "control_effort", "heading_error_rad")


@dataclass(frozen=True)
class Campaign:
    guidance: Guidance
    m_pos: tuple
    speed: float
    t_pos: tuple
    t_vel: tuple
    heading_error: float = 0.0
    target_accel: tuple = (0.0, 0.0, 0.0)
    maneuver_start: float = 0.0
    weave_period: float = 4.0
    duration: float = 30.0
    runs: int = 100
    seed: int = 20261129
    sigma_heading: float = 0.02
    sigma_pos: float = 50.0
    start_spread: float = 0.0
    guidance_on: str = "truth"
    scenario: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if not (isinstance(self.runs, int) and self.runs >= 1):
            raise ConfigError(f"--runs: must be an integer >= 1, got {self.runs!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise ConfigError(f"seed: must be an integer in [0, 2^63), got {self.seed!r}")
        if not (self.weave_period > 0 and math.isfinite(self.weave_period)):
            raise ConfigError(f"weave period: must be > 0, got {self.weave_period!r}")
        for name in ("sigma_heading", "sigma_pos", "start_spread"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise ConfigError(f"{name}: must be finite and >= 0, got {v!r}")
        if not (self.duration > 0 and self.speed > 0):
            raise ConfigError("duration and speed must be > 0")
        if self.guidance_on not in ("truth", "noisy", "track"):
            raise ConfigError(f"guidance_on: expected truth, noisy or track, got "
                              f"{self.guidance_on!r}")
        if self.guidance_on != "truth" and self.scenario is None:
            raise ConfigError("guidance_on noisy/track needs a scenario")


def run_seed(seed: int, i: int) -> np.random.SeedSequence:
    """The seed sequence of run i: the i-th child of SeedSequence(seed)."""
    return np.random.SeedSequence(seed, spawn_key=(i,))


def draw(c: Campaign, start: int, stop: int):
    """Initial states and maneuvers of runs start…stop−1 (their own streams)."""
    k = stop - start
    m_pos = np.tile(np.asarray(c.m_pos, float), (k, 1))
    t_pos = np.empty((k, 3))
    m_vel = np.empty((k, 3))
    t_vel = np.tile(np.asarray(c.t_vel, float), (k, 1))
    man = np.empty((k, 6))
    he = np.empty(k)
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng(run_seed(c.seed, i))
        z = rng.standard_normal(4)
        he[j] = c.heading_error + c.sigma_heading * z[0]
        t_pos[j] = np.asarray(c.t_pos, float) + c.sigma_pos * z[1:4]
        u = collision_course(m_pos[j], t_pos[j], t_vel[j], c.speed)
        m_vel[j] = c.speed * rotate_about_z(u, he[j])
        ts = c.maneuver_start + c.start_spread * rng.random()
        ph = 2 * math.pi * rng.random() if c.guidance.maneuver == "weave" else 0.0
        man[j] = [*c.target_accel, ts, 2 * math.pi / c.weave_period, ph]
    return m_pos, m_vel, t_pos, t_vel, man, he


def fly_chunk(c: Campaign, start: int, stop: int) -> dict:
    """Results of runs start…stop−1 as arrays (see FIELDS)."""
    if c.guidance_on != "truth":
        return _pipeline_chunk(c, start, stop)
    m_pos, m_vel, t_pos, t_vel, man, he = draw(c, start, stop)
    s = Salvo(c.guidance, m_pos, m_vel, t_pos, t_vel, man)
    s.finish(c.duration)
    return {"index": np.arange(start, stop), "status": s.status.copy(), "miss_m": s.miss.copy(),
            "t_closest_s": s.t_cpa.copy(), "max_accel_cmd": s.stats[0].copy(),
            "saturated_commands": s.stats[1].astype(np.int64),
            "control_effort": s.stats[2].copy(), "heading_error_rad": he}


def _pipeline_chunk(c: Campaign, start: int, stop: int) -> dict:
    from .. import pipeline

    code = {v: k for k, v in STATUS.items()}
    m_pos, m_vel, t_pos, t_vel, man, he = draw(c, start, stop)
    sc = c.scenario
    out = {k: [] for k in FIELDS}
    ti = sc.interceptor.target
    for j, i in enumerate(range(start, stop)):
        rs = int(run_seed(c.seed, i).generate_state(1, np.uint64)[0] >> np.uint64(1))
        tgts = list(sc.targets)
        tgts[ti] = replace(tgts[ti], position_m=list(t_pos[j]), maneuver_start_s=float(man[j, 3]),
                           maneuver_phase_rad=float(man[j, 5]))
        run_sc = replace(sc, scenario=replace(sc.scenario, seed=rs), targets=tuple(tgts),
                         interceptor=replace(sc.interceptor, heading_error_rad=float(he[j])))
        r = pipeline.run(run_sc)
        out["status"].append(code.get(r.status, 3))
        out["miss_m"].append(r.miss_distance_m)
        out["t_closest_s"].append(r.t_closest_s)
        out["max_accel_cmd"].append(r.summary["max_accel_cmd"])
        out["saturated_commands"].append(r.summary["saturated_commands"])
        out["control_effort"].append(float("nan"))
        out["heading_error_rad"].append(he[j])
    res = {k: np.asarray(v) for k, v in out.items()}
    res["status"] = res["status"].astype(np.uint8)
    res["index"] = np.arange(start, stop)
    return res


def _chunks(c: Campaign):
    """(start, stop) of every chunk: CHUNK runs per stepper call on truth, a few runs per
    task through the pipeline (about a second each)."""
    size = CHUNK if c.guidance_on == "truth" else 4
    return [(a, min(c.runs, a + size)) for a in range(0, c.runs, size)]


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()

    def update(self, k: int) -> None:
        self.done += k
        if not self.enabled:
            return
        f = self.done / self.total
        bar = "#" * int(30 * f) + "." * (30 - int(30 * f))
        el = time.perf_counter() - self.t0
        self.stream.write(f"\r  [{bar}] {100 * f:5.1f}%  {self.done}/{self.total} runs  "
                          f"{el:6.1f} s")
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def _merge(parts: list, n: int) -> dict:
    res = {}
    for k in ("index",) + FIELDS:
        res[k] = np.concatenate([p[k] for p in parts])
    order = np.argsort(res["index"], kind="stable")
    res = {k: v[order] for k, v in res.items()}
    assert np.array_equal(res["index"], np.arange(n))
    return res


def _process_context():
    """Worker processes that do not inherit this process's threads: ``fork`` of a
    multi-threaded parent (FFTW, BLAS, a progress thread) can deadlock the child, and
    Python 3.12+ warns about it. POSIX: a fork server that has imported this module once
    (workers start in milliseconds); elsewhere ``spawn``."""
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context("spawn")


def _worker_init(env: dict, backend: str) -> None:
    """A worker runs as its parent does: the parent's XBAND_* settings and kernel backend
    (a fork-server child inherits the server's, not the parent's)."""
    for k in [k for k in os.environ if k.startswith("XBAND_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)
    from .. import _kernels

    _kernels.set_backend(backend)


def _pool(workers: int):
    """A process pool whose workers run as this process does (``_worker_init``)."""
    from concurrent.futures import ProcessPoolExecutor

    from .. import _kernels

    env = {k: v for k, v in os.environ.items() if k.startswith("XBAND_")}
    return ProcessPoolExecutor(max_workers=workers, mp_context=_process_context(),
                               initializer=_worker_init, initargs=(env, _kernels.backend()))


def run_local(c: Campaign, jobs: int | None = None, progress: Progress | None = None) -> dict:
    """The campaign on this machine: ``jobs`` processes (default: every core; 1 = in this
    process). The workers start from a fork server (``spawn`` off POSIX) with this
    process's kernel backend and XBAND_* settings; as with any such pool, a script that
    calls this with ``jobs`` > 1 needs an ``if __name__ == "__main__":`` guard."""
    chunks = _chunks(c)
    jobs = jobs or os.cpu_count() or 1
    parts = []
    if jobs == 1 or len(chunks) == 1:
        for a, b in chunks:
            parts.append(fly_chunk(c, a, b))
            if progress:
                progress.update(b - a)
        return _merge(parts, c.runs)
    from concurrent.futures import as_completed

    with _pool(min(jobs, len(chunks))) as ex:
        futs = {ex.submit(fly_chunk, c, a, b): b - a for a, b in chunks}
        for f in as_completed(futs):
            parts.append(f.result())
            if progress:
                progress.update(futs[f])
    return _merge(parts, c.runs)


def run_dask(c: Campaign, address: str | None = None, workers: int | None = None,
             progress: Progress | None = None, processes: bool = True) -> dict:
    """The same campaign on a Dask distributed cluster: the scheduler at ``address``, or
    a LocalCluster of ``workers`` (default: every core) when none is given."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("--dask/--scheduler need dask.distributed: "
                          "pip install 'xband[dask]'") from None
    cluster = None
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=processes, dashboard_address=None)
        client = Client(cluster)
    try:
        chunks = _chunks(c)
        futs = [client.submit(fly_chunk, c, a, b, pure=False) for a, b in chunks]
        parts = []
        for f in as_completed(futs):
            r = f.result()
            parts.append(r)
            if progress:
                progress.update(len(r["index"]))
        return _merge(parts, c.runs)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def summarize(res: dict) -> dict:
    """Mean, percentiles and CEP of the miss distance; time of flight; saturation."""
    miss = res["miss_m"]
    st = res["status"]
    hit = st == 1
    m = miss[hit] if hit.any() else miss
    pct = {f"p{q}": float(np.percentile(m, q)) for q in (50, 90, 95, 99)} if m.size else {}
    return {
        "runs": int(miss.size),
        "status_counts": {STATUS[int(k)]: int(v) for k, v in zip(*np.unique(st, return_counts=True))},
        "miss_mean_m": float(np.mean(m)) if m.size else float("nan"),
        "miss_std_m": float(np.std(m)) if m.size else float("nan"),
        "miss_percentiles_m": pct,
        # the radius holding half of the (3-D, radial) miss distances
        "cep_m": float(np.median(m)) if m.size else float("nan"),
        "miss_max_m": float(np.max(m)) if m.size else float("nan"),
        "t_closest_mean_s": float(np.mean(res["t_closest_s"][hit])) if hit.any() else float("nan"),
        "saturated_fraction": float(np.mean(res["saturated_commands"] > 0)),
        "max_accel_cmd_mean": float(np.mean(res["max_accel_cmd"])),
    }


def write_csv(res: dict, path) -> None:
    """Per-run results as CSV, written to ``PATH.part`` and renamed (never half-written)."""
    cols = ("index",) + FIELDS
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("run,status," + ",".join(cols[2:]) + "\n")
            for j in range(res["index"].size):
                vals = [str(int(res["index"][j])), STATUS[int(res["status"][j])]]
                vals += [repr(float(res[k][j])) if k != "saturated_commands"
                         else str(int(res[k][j])) for k in cols[2:]]
                f.write(",".join(vals) + "\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

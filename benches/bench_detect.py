"""The detection chain per CPI: xband vs a straightforward numpy/scipy chain, same cube.

Groups: "chain 3x128x4096" and "chain 1x256x8192" (the whole CPI: xband.detect vs numpy FFTs
over every channel + scipy.ndimage CA-CFAR + scipy.ndimage.label), and "stage …" (each
stage of xband's chain). ``extra_info`` holds the real-time factor (CPI duration / mean
time) and, in the "bound" group, the lower bound this machine allows: the chain's FFTs, each
at the best time per transform of its length measured here (any backend and plan:
FFTW_ESTIMATE or FFTW_MEASURE, batched or one row in cache, scipy.fft), or the bytes the
chain must move at least (sum channel read once, map written and read) at the measured copy
bandwidth, whichever is larger. ``python benches/bench_detect.py`` prints the same
comparison as a table (best of N runs, one thread), with each stage of the 3-channel CPI.

    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_detect.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=mean,min,rounds

Before/after a kernel change, side by side in one process: ``python benches/bench_detect.py
--compare DIR`` loads the compiled ``cfar``, ``rdmap`` and ``pulse`` kernels found in DIR (a
copy of src/xband/_ext/ taken before the change, or the src/xband/_ext/ of an older
checkout built with ``XBAND_BUILD_ONLY=cfar,rdmap,pulse``; the AVX2 builds are taken where
the current process runs them) next to the current ones and runs the chain with each set,
interleaved (CPU time, best and median of N), after checking that both give the same power
map and detections bit for bit; ``--compare DIR --planner-before estimate`` makes the
"before" chain's FFT plans with FFTW_ESTIMATE (the tree before the shipped wisdom).
``--compare-glue DIR``
does the same for a copy of the xband/detect package taken before a change (Python
sources), and times the chain's per-CPI glue with a line-level timer as well. ``--tail``
times the fourth round's items (monopulse in one kernel call, the noise median on uint32
bit patterns, the trusted Detections constructor) old way vs new on the same data.
``--bound-rounds [N]`` measures the chain and the lower bound alternately, N rounds (8), and
prints each round's ratio and their median (a slow phase of a shared machine then slows
both sides of a ratio). ``--planners`` runs the chain with FFTW_ESTIMATE plans (``XBAND_FFTW_PLANNER=estimate``, the
plans before the shipped wisdom) and with the shipped wisdom (the default), interleaved, and
reports how far their outputs differ (other FFT algorithms: float32 rounding).
"""
import os
import time

import numpy as np
import pytest
import scipy.fft as sfft
from scipy import ndimage

from xband.detect.cfar import alpha_for
from xband.detect.chain import DetectConfig, DetectionChain
from xband.radar.params import RadarParams
from xband.radar.scene import direction_of, synthesize

CASES = {"3x128x4096": (3, RadarParams()),
         "1x256x8192": (1, RadarParams(sample_rate_hz=81.92e6, bandwidth_hz=20e6,
                                       pulses_per_cpi=256))}


def _cube(case):
    nch, p = CASES[case]
    rng = np.random.default_rng(7)
    pos = np.array([[6000.0, 9000.0, 3000.0], [6200.0, 9100.0, 3000.0], [5000, 7000, 2000]])
    vel = np.array([[-120.0, -230.0, 0.0], [-100, -200, 0], [50, 0, 0]])
    pt = direction_of(pos[0])
    return p, synthesize(p, 0.0, pos, vel, [1.0, 2.0, 1.0], rng, pointing=pt,
                         channels=nch), pt


def numpy_chain(p, cube, cfg, chain):
    """The textbook chain: every channel compressed and Doppler-processed with numpy FFTs,
    |·|², CA-CFAR by scipy.ndimage.correlate of the training kernel, label + maximum."""
    x = cube.data
    L = p.pulse_samples
    h = chain.comp.h
    H = np.conj(np.fft.fft(h, x.shape[-1]))
    y = np.fft.ifft(np.fft.fft(x, axis=-1) * H, axis=-1)
    w = chain.dop.w
    X = np.fft.fftshift(np.fft.fft(y * w[None, :, None], axis=1), axes=1)
    pw = np.abs(X[0]) ** 2
    gr, gd, tr, td = chain.cfar.guard_r, chain.cfar.guard_d, chain.cfar.train_r, chain.cfar.train_d
    k = np.ones((2 * (gd + td) + 1, 2 * (gr + tr) + 1))
    k[td:td + 2 * gd + 1, tr:tr + 2 * gr + 1] = 0
    N = k.sum()
    Z = ndimage.correlate(pw, k / N, mode="wrap")
    hit = pw > alpha_for("ca", cfg.pfa, int(N)) * Z
    hit[:, :L] = False
    hit[:, -L:] = False
    lab, n = ndimage.label(hit, structure=np.ones((3, 3)))
    peaks = ndimage.maximum_position(pw, lab, range(1, n + 1))
    if x.shape[0] == 3 and peaks:
        d, r = np.array(peaks).T
        ratio = X[1:, d, r] / X[0, d, r]
    return peaks


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("who", ["xband", "numpy"])
def test_chain(benchmark, case, who):
    p, cube, pt = _cube(case)
    cfg = DetectConfig(range_window="taylor")
    chain = DetectionChain(p, cfg)
    benchmark.group = f"chain {case}"
    if who == "xband":
        benchmark(chain.process, cube, pt)
    else:
        benchmark.pedantic(numpy_chain, (p, cube, cfg, chain), rounds=5, iterations=1)
    benchmark.extra_info.update(who=who, cpi_s=p.cpi_duration_s)
    if benchmark.stats is not None:                       # None under --benchmark-disable
        benchmark.extra_info["real_time_factor"] = p.cpi_duration_s / benchmark.stats.stats.mean


STAGES = ["range_fft", "filter_window", "range_ifft", "doppler_fft", "square_law", "map",
          "cfar", "monopulse"]


def stage_calls(chain, cube, pt):
    """name → zero-argument callable running that stage of ``chain`` on ``cube``
    (pyFFTW: the block-wise map's passes over all blocks, "map" = all of them fused, i.e.
    ``power_map``; scipy.fft: the whole-cube passes, with "range_ifft" the 2-D backward
    FFT and "doppler_fft" a no-op)."""
    from xband import _kernels

    k, rd = _kernels.get("pulse"), _kernels.get("rdmap")
    x = cube.data[0]
    X = chain.range_doppler(x, full=False).copy()
    pw = np.empty(X.shape, np.float32)
    out = chain.process(cube, pt)
    d, r = out.extra["d"], out.extra["r"]
    gates, bins = (r * chain.D).astype(np.int64), d.astype(np.int64)
    nch = cube.data.shape[0]
    D = np.empty((nch, len(d)), np.complex128)
    chans, work = np.arange(nch, dtype=np.int64), np.empty(2 * nch * chain._hc.shape[0])

    def mono():                                  # every channel in one call, as the chain
        k.gate_dft_channels(cube.data, chans, chain._hc, chain._taps, chain.dop.real_weights,
                            gates, bins, chain.M, work, D)

    calls = {"map": lambda: chain._power_map(x, True),   # with the noise subsample
             "square_law": lambda: rd.square_law_cols(X, chain.col_lo, chain.col_hi, pw),
             "cfar": lambda: chain.cfar.detect(out.power, chain.gate_lo, chain.gate_hi),
             "monopulse": mono}
    blk = chain._blk
    if blk is not None:
        segs = blk.segments

        in_place = chain._reads_in_place(x)     # the scene's cubes are 64-byte aligned

        def fwd():                                # as the chain does it (DetectionChain._rows)
            if in_place:
                for j0, j1, inp, plan, spec, *_ in segs:
                    plan.update_arrays(x[j0:j1], spec)
                    plan.execute()
                return
            for j0, j1, inp, plan, spec, *_ in segs:
                plan.update_arrays(inp, spec)
                np.copyto(inp, x[j0:j1])
                plan.execute()

        wplan = chain._block_weights()          # rdmap.BlockWeights, as the chain

        def weight():
            for k in range(len(segs)):
                wplan.run(k)

        def ifft():
            for seg in segs:
                seg[-1].execute()

        def doppler():
            for c0, c1, plan in blk.col_blocks:
                plan.execute()

        calls.update(range_fft=fwd, filter_window=weight, range_ifft=ifft,
                     doppler_fft=doppler)
    else:
        Xf = chain._fwd(x).copy()
        buf = chain._rd.buf
        k.spectrum_weight(Xf, chain._Hd, chain._w32, buf)
        keep = buf.copy()

        def rd2():          # scipy transforms in place: restore its input (not timed in
            buf[...] = keep     # the chain, where the weighting pass rewrites it)
            chain._rd.execute()

        calls.update(range_fft=lambda: chain._fwd(x),
                     filter_window=lambda: k.spectrum_weight(Xf, chain._Hd, chain._w32, buf),
                     range_ifft=rd2, doppler_fft=lambda: None)
    return {name: calls[name] for name in STAGES}


@pytest.mark.parametrize("stage", STAGES)
def test_stage(benchmark, stage):
    p, cube, pt = _cube("3x128x4096")
    chain = DetectionChain(p, DetectConfig(range_window="taylor"))
    benchmark.group = "stage 3x128x4096"
    benchmark(stage_calls(chain, cube, pt)[stage])
    benchmark.extra_info.update(stage=stage)


def best_fft_time(n: int, rows: int = 64) -> tuple:
    """(seconds per length-n complex64 transform, how): the fastest of pyFFTW plans
    (FFTW_ESTIMATE and FFTW_MEASURE, a batch of ``rows`` out of place, one row in place in
    cache) and scipy.fft (a batch) on this machine, one thread, best of 30 runs on each of
    the wall and this thread's CPU clock (a bound: a run slowed by another process must not
    raise it)."""
    a = np.ones((rows, n), np.complex64)
    cands = {"scipy.fft": (lambda: sfft.fft(a, axis=1, workers=1), rows)}
    try:
        import pyfftw
    except ImportError:                          # pragma: no cover - depends on the env
        pyfftw = None
    if pyfftw is not None:
        for flag in ("FFTW_ESTIMATE", "FFTW_MEASURE"):
            i = pyfftw.empty_aligned((rows, n), "complex64")
            o = pyfftw.empty_aligned((rows, n), "complex64")
            i[...] = 1
            cands[f"pyfftw {flag[5:].lower()} batch"] = (
                pyfftw.FFTW(i, o, axes=(1,), flags=(flag,), threads=1).execute, rows)
            r = pyfftw.empty_aligned((1, n), "complex64")
            r[...] = 1
            cands[f"pyfftw {flag[5:].lower()} row"] = (
                pyfftw.FFTW(r, r, axes=(1,), flags=(flag,), threads=1).execute, 1)
    times = {k: min(min(_timeit(f), _timeit(f, time.thread_time)) for _ in range(30)) / m
             for k, (f, m) in cands.items()}
    how = min(times, key=times.get)
    return times[how], how


def lower_bound(p, chain):
    """(seconds, detail): the chain's FFTs — P forward range FFTs of Ns, P inverse of the
    kept Nd bins, Doppler FFTs of M over the gates the detector reads (col_lo … col_hi) —
    each at the best time per transform measured here for that length (any backend or
    plan, ``best_fft_time``), or the bytes the chain must move at least (sum channel read
    once, map written and read once) at the measured copy bandwidth — the larger."""
    P, Ns, Nd, M = p.pulses_per_cpi, p.samples_per_pri, chain.Nd, chain.M
    t_ns, how_ns = best_fft_time(Ns)
    t_nd, how_nd = best_fft_time(Nd)
    t_m, how_m = best_fft_time(M)
    ncol = chain.col_hi - chain.col_lo
    fft_s = P * t_ns + P * t_nd + ncol * t_m
    flops = 5 * (P * Ns * np.log2(Ns) + P * Nd * np.log2(Nd) + ncol * M * np.log2(M))
    big = np.ones(64 << 20, np.uint8)
    dst = np.empty_like(big)
    tb = min(_timeit(lambda: np.copyto(dst, big)) for _ in range(5))
    bw = 2 * big.nbytes / tb                                   # read + write bytes/s
    bytes_ = P * Ns * 8 + 2 * M * Nd * 4
    return max(fft_s, bytes_ / bw), dict(fft_gflops=flops / fft_s / 1e9, mem_gbps=bw / 1e9,
                                         fft_s=fft_s, mem_s=bytes_ / bw,
                                         fft_backend=f"{Ns}: {how_ns}; {Nd}: {how_nd}; "
                                                     f"{M}: {how_m}")


def _timeit(f, clock=time.perf_counter):
    t = clock()
    f()
    return clock() - t


@pytest.mark.parametrize("case", list(CASES))
def test_bound(benchmark, case):
    p, _, _ = _cube(case)
    lb, info = lower_bound(p, DetectionChain(p, DetectConfig(range_window="taylor")))
    benchmark.group = "bound"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(case=case, lower_bound_s=lb, **info)


def main(repeat: int = 30) -> None:
    """Print xband vs the numpy chain, per stage, real-time factor and the lower bound.
    Best of ``repeat`` runs, wall clock and this thread's CPU time (``time.thread_time``:
    on a machine shared with other jobs, the time the chain computed, without the time
    other processes held the core)."""
    def best(f, n, clock=time.perf_counter):
        return min(_timeit(f, clock) for _ in range(n))

    from xband import _kernels

    cpu = time.thread_time
    print("kernels:", ", ".join(_kernels.get(s).__name__ for s in ("rdmap", "cfar", "pulse")),
          f"(XBAND_ISA: {_kernels.isa()})")
    for case in CASES:
        p, cube, pt = _cube(case)
        cfg = DetectConfig(range_window="taylor")
        chain = DetectionChain(p, cfg)
        if chain._blk is not None:
            print(f"{case}: FFT plans {dict(chain._blk.planned)} "
                  f"(XBAND_FFTW_PLANNER={os.environ.get('XBAND_FFTW_PLANNER', 'wisdom')})")
        run = lambda: chain.process(cube, pt)             # noqa: E731
        tx, cx = best(run, repeat), best(run, repeat, cpu)
        ref = lambda: numpy_chain(p, cube, cfg, chain)    # noqa: E731
        tn, cn = best(ref, 3), best(ref, 3, cpu)
        lb, info = lower_bound(p, chain)
        print(f"{case}: xband {tx * 1e3:.2f} ms wall / {cx * 1e3:.2f} ms CPU, numpy/scipy "
              f"chain {tn * 1e3:.1f} / {cn * 1e3:.1f} ms (×{tn / tx:.1f} / ×{cn / cx:.1f}); "
              f"CPI {p.cpi_duration_s * 1e3:.1f} ms → real-time factor "
              f"{p.cpi_duration_s / tx:.2f} / {p.cpi_duration_s / cx:.2f}; lower bound "
              f"{lb * 1e3:.2f} ms (×{tx / lb:.2f} / ×{cx / lb:.2f} above it; FFT "
              f"{info['fft_gflops']:.1f} GFlop/s [{info['fft_backend']}], copy "
              f"{info['mem_gbps']:.1f} GB/s)")
        print(f"    lower bound parts: FFTs {info['fft_s'] * 1e3:.2f} ms, bytes "
              f"{info['mem_s'] * 1e3:.2f} ms")
        if case == "3x128x4096":
            for name, f in stage_calls(chain, cube, pt).items():
                print(f"    {name:14s} {best(f, repeat) * 1e3:7.3f} ms wall "
                      f"{best(f, repeat, cpu) * 1e3:7.3f} ms CPU")


def bound_rounds(rounds: int = 8, repeat: int = 20) -> None:
    """The chain against its lower bound measured alternately, round after round (each
    round: the chain's best of ``repeat`` on the wall and CPU clocks, then the bound), so a
    slow phase of a shared machine slows both sides of a round's ratio; prints every
    round's ratio and their median."""
    cpu = time.thread_time
    for case in CASES:
        p, cube, pt = _cube(case)
        chain = DetectionChain(p, DetectConfig(range_window="taylor"))
        run = lambda: chain.process(cube, pt)             # noqa: E731
        ratios, rows = [], []
        for _ in range(rounds):
            t = min(min(_timeit(run), _timeit(run, cpu)) for _ in range(repeat))
            lb, _ = lower_bound(p, chain)
            ratios.append(t / lb)
            rows.append(f"{t * 1e3:.2f}/{lb * 1e3:.2f}")
        print(f"{case}: chain / bound (ms) per round: {', '.join(rows)}; ratio median "
              f"×{np.median(ratios):.2f}, best ×{min(ratios):.2f}, worst ×{max(ratios):.2f}")


def compare(before_dir: str, repeat: int = 60, planner_before: str | None = None) -> None:
    """The chain with the kernels of ``before_dir`` vs the current ones, interleaved. Each
    stem is loaded in the build the current process uses (``cfar_avx2`` where the AVX2
    build is loaded, else ``cfar``) when ``before_dir`` has it, else its baseline build.
    ``planner_before`` (e.g. "estimate"): the "before" chain's FFT plans are made with that
    ``XBAND_FFTW_PLANNER`` (the "after" chain with the default), so one run compares a
    tree before the shipped wisdom with this one; outputs then differ in their last bits
    (reported) instead of being checked bit-identical."""
    import glob
    import importlib.util

    from xband import _kernels

    def load(stem, name):
        # the module's own name (PyInit_<name>): the current build's variant if present
        for nm in dict.fromkeys((name, stem)):
            for path in sorted(glob.glob(os.path.join(before_dir, f"{nm}.*.so"))):
                spec = importlib.util.spec_from_file_location(nm, path)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                return mod
        return None

    now = {s: _kernels.get(s) for s in ("cfar", "rdmap", "pulse")}
    old = {s: load(s, now[s].__name__.rsplit(".", 1)[-1]) or now[s] for s in now}
    if not hasattr(old["pulse"], "gate_dft_channels"):      # a build before round 4: the
        print("before: pulse has no gate_dft_channels (older build): current pulse used")
        old["pulse"] = now["pulse"]                         # chain needs the new function
    if not hasattr(old["rdmap"], "BlockWeights"):           # an older build: its
        old["rdmap"] = _with_block_weights(old["rdmap"])    # weight_block once per block
    print("before:", {s: getattr(m, "__file__", "?") for s, m in old.items()},
          f"FFT plans: {planner_before or 'default'}")
    print("after: ", {s: m.__name__ for s, m in now.items()}, f"(XBAND_ISA: {_kernels.isa()})")
    cpu = time.thread_time
    for case in CASES:
        p, cube, pt = _cube(case)
        chains = {}
        for who, planner in (("before", planner_before), ("after", None)):
            env = os.environ.pop("XBAND_FFTW_PLANNER", None)
            if planner:
                os.environ["XBAND_FFTW_PLANNER"] = planner
            chains[who] = DetectionChain(p, DetectConfig(range_window="taylor"))
            os.environ.pop("XBAND_FFTW_PLANNER", None)
            if env is not None:
                os.environ["XBAND_FFTW_PLANNER"] = env
        outs, t = {}, {"before": [], "after": []}
        for who, mods in (("before", old), ("after", now)):
            _kernels._state["mods"].update(mods)
            o = chains[who].process(cube, pt)
            outs[who] = (o.power.copy(), o.detections.range, o.detections.az,
                         o.detections.range_rate, o.detections.snr)
        same = all(np.array_equal(a, b, equal_nan=True)
                   for a, b in zip(outs["before"], outs["after"]))
        for _ in range(repeat):
            for who, mods in (("before", old), ("after", now)):
                _kernels._state["mods"].update(mods)
                t[who].append(_timeit(lambda: chains[who].process(cube, pt), cpu))
        _kernels._state["mods"].update(now)
        b, a = np.array(t["before"]) * 1e3, np.array(t["after"]) * 1e3
        (pb, rb, *_), (pa, ra, *_) = outs["before"], outs["after"]
        diff = "bit-identical: True" if same else (
            f"bit-identical: False (max |Δ| / peak of the map "
            f"{np.max(np.abs(pb - pa)) / pb.max():.1e}"
            + (f", of the ranges {np.max(np.abs(rb - ra)):.1e} m" if rb.shape == ra.shape
               else ", another number of detections") + ")")
        print(f"{case}: before {b.min():.2f} / {np.median(b):.2f} ms, after {a.min():.2f} / "
              f"{np.median(a):.2f} ms CPU (best / median of {repeat}): ×{b.min() / a.min():.2f}"
              f" / ×{np.median(b) / np.median(a):.2f}; outputs {diff}")


def _with_block_weights(mod):
    """A stand-in for an older ``rdmap`` build without ``BlockWeights``: the
    module's own functions, and ``BlockWeights`` calling its ``weight_block`` per block
    (as the chain did then, memoryviews made per call)."""
    import types

    class BlockWeights:
        def __init__(self, F, H, taps, w, reverse, out):
            self._args = [(f, H, taps, ww, r, o) for f, ww, r, o in zip(F, w, reverse, out)]

        def __len__(self):
            return len(self._args)

        def run(self, k):
            mod.weight_block(*self._args[k])

    shim = types.ModuleType(mod.__name__)
    shim.__dict__.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
    shim.__file__ = getattr(mod, "__file__", "?")
    shim.BlockWeights = BlockWeights
    return shim


def _timed_process(mod):
    """``mod.DetectionChain.process`` recompiled with a thread-CPU-time stamp after each of
    its top-level statements: (function, per-statement ns accumulator, statement labels)."""
    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(mod.DetectionChain.process)).split("\n")
    res, labels, buf = [src[0], "    _T = __clk()"], [], []

    def flush():
        if buf:
            res.extend(buf)
            labels.append(buf[0].strip())
            res.append(f"    _t = __clk(); __acc[{len(labels) - 1}] += _t - _T; _T = _t")
    for j, line in enumerate(src[1:], 1):
        top = line.startswith("    ") and not line.startswith("     ")
        if top and line.strip().startswith("return"):
            flush()
            res.extend(src[j:])
            break
        if top:
            flush()
            buf = [line]
        else:
            buf.append(line)
    acc = np.zeros(len(labels))
    ns = dict(mod.__dict__, __clk=time.thread_time_ns, __acc=acc)
    exec("\n".join(res), ns)
    return ns["process"], acc, labels


def compare_glue(before_dir: str, repeat: int = 200) -> None:
    """The chain's Python glue per CPI — every statement of ``process`` but the map, the
    CFAR and the monopulse block — with the xband/detect package copied to ``before_dir``
    (e.g. ``cp -r src/xband/detect /tmp/before_detect`` before a change) vs the current
    one, interleaved, by a line-level timer (thread CPU time; ~1 µs of timer per line in
    both); also the whole ``process`` without the timer, and a bit-identity check."""
    import importlib.util
    import os
    import sys

    import xband.detect.chain as now
    spec = importlib.util.spec_from_file_location(
        "xband._detect_before", os.path.join(before_dir, "__init__.py"),
        submodule_search_locations=[before_dir])
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["xband._detect_before"] = pkg
    spec.loader.exec_module(pkg)
    old = importlib.import_module("xband._detect_before.chain")
    heavy = ("power =", "idx, Z =", 'if k and "daz"')
    cpu = time.thread_time
    for case in CASES:
        p, cube, pt = _cube(case)
        runs = {}
        for who, mod in (("before", old), ("after", now)):
            f, acc, labels = _timed_process(mod)
            ch = mod.DetectionChain(p, mod.DetectConfig(range_window="taylor"))
            hv = [i for i, lab in enumerate(labels) if lab.startswith(heavy)]
            runs[who] = (f, acc, hv, ch, [], [])
        oa, ob = runs["before"][3].process(cube, pt), runs["after"][3].process(cube, pt)
        same = np.array_equal(oa.power, ob.power) and oa.noise == ob.noise and all(
            np.array_equal(getattr(oa.detections, k), getattr(ob.detections, k),
                           equal_nan=True)
            for k in ("t", "range", "az", "el", "range_rate", "snr", "R"))
        for _ in range(repeat):
            for who, (f, acc, hv, ch, glue, whole) in runs.items():
                acc[:] = 0
                f(ch, cube, pt)
                glue.append((acc.sum() - acc[hv].sum()) * 1e-6)
                t0 = cpu()
                ch.process(cube, pt)
                whole.append((cpu() - t0) * 1e3)
        g = {w: np.array(r[4]) for w, r in runs.items()}
        t = {w: np.array(r[5]) for w, r in runs.items()}
        print(f"{case}: glue before {g['before'].min():.3f} / {np.median(g['before']):.3f} ms, "
              f"after {g['after'].min():.3f} / {np.median(g['after']):.3f} ms; whole process "
              f"before {t['before'].min():.2f} / {np.median(t['before']):.2f} ms, after "
              f"{t['after'].min():.2f} / {np.median(t['after']):.2f} ms (CPU, best / median "
              f"of {repeat}: ×{t['before'].min() / t['after'].min():.2f} / "
              f"×{np.median(t['before']) / np.median(t['after']):.2f}); outputs "
              f"bit-identical: {same}")


def compare_copy(repeat: int = 40) -> None:
    """The range-FFT pass of the 3-channel CPI with the sum channel copied block by block
    into the plans' aligned buffer vs read in place from the 64-byte aligned cube (what the
    chain does now), interleaved, CPU time; once with warm caches, once with a 64 MB sweep
    before each run (the cube comes from memory). Same spectra checked."""
    p, cube, pt = _cube("3x128x4096")
    chain = DetectionChain(p, DetectConfig(range_window="taylor"))
    if chain._blk is None:
        print("pyFFTW not in use: nothing to compare")
        return
    x, segs = cube.data[0], chain._blk.segments
    assert chain._reads_in_place(x)
    big = np.zeros(64 << 20, np.uint8)

    def copy_fft():
        for j0, j1, inp, fwd, spec, *_ in segs:
            fwd.update_arrays(inp, spec)
            np.copyto(inp, x[j0:j1])
            fwd.execute()

    def in_place():
        for j0, j1, inp, fwd, spec, *_ in segs:
            fwd.update_arrays(x[j0:j1], spec)
            fwd.execute()

    copy_fft()
    a = segs[-1][4].copy()
    in_place()
    print("same spectra:", np.array_equal(a, segs[-1][4]))
    for evict in (False, True):
        t = {"copy + FFT": [], "in place": []}
        for _ in range(repeat):
            for name, f in (("copy + FFT", copy_fft), ("in place", in_place)):
                if evict:
                    big[::4096] += 1
                t[name].append(_timeit(f, time.thread_time) * 1e3)
        print(("flushed: " if evict else "warm:    ") + ", ".join(
            f"{k} {min(v):.3f} / {np.median(v):.3f} ms" for k, v in t.items()),
            f"(CPU, best / median of {repeat})")


def compare_tail(repeat: int = 300) -> None:
    """The fourth round's three items on the 3-channel CPI's own data, old way vs new,
    interleaved, thread CPU time, best / median of ``repeat``, same bits checked: monopulse
    (three ``pulse.gate_dft`` calls vs one ``pulse.gate_dft_channels``), the noise median
    (``np.partition`` of the float32 subsample vs of its bit patterns as uint32, on a fresh
    copy each time), the Detections batch (validating constructor vs ``trusted``)."""
    from xband import _kernels
    from xband.types import Detections

    p, cube, pt = _cube("3x128x4096")
    ch = DetectionChain(p, DetectConfig(range_window="taylor"))
    out = ch.process(cube, pt)
    d, r = out.extra["d"], out.extra["r"]
    k = d.size
    gates, bins = np.ascontiguousarray(r * ch.D, np.int64), np.ascontiguousarray(d, np.int64)
    pk = _kernels.get("pulse")
    L = ch._hc.shape[0]
    chans, work = np.arange(3, dtype=np.int64), np.empty(6 * L)

    def mono_calls():
        res = np.empty((3, k), np.complex128)
        for c in range(3):
            pk.gate_dft(cube.data[c], ch._hc, ch._taps, ch.dop.real_weights, gates, bins,
                        ch.M, res[c])
        return res

    def mono_one():
        res = np.empty((3, k), np.complex128)
        pk.gate_dft_channels(cube.data, chans, ch._hc, ch._taps, ch.dop.real_weights, gates,
                             bins, ch.M, work, res)
        return res

    n = ch._sub_geometry(out.power)[3]
    sub = ch._sub[:n].copy()

    def med_float():
        s = sub.copy()
        s.partition(n // 2)
        return s[n // 2]

    def med_bits():
        s = sub.copy()
        if s.view(np.int32).min() >= 0:
            s.view(np.uint32).partition(n // 2)
        else:
            s.partition(n // 2)
        return s[n // 2]

    det = out.detections
    kw = {f: getattr(det, f) for f in ("t", "range", "az", "el", "range_rate", "snr", "R")}
    pairs = {"monopulse": (mono_calls, mono_one), "noise median": (med_float, med_bits),
             "Detections": (lambda: Detections(**kw), lambda: Detections.trusted(**kw))}
    print(f"3x128x4096: {k} detections, {n} subsample cells, kernels {pk.__name__}")
    for name, (a, b) in pairs.items():
        ra, rb = a(), b()
        same = ra.equals(rb) if name == "Detections" else \
            np.asarray(ra).tobytes() == np.asarray(rb).tobytes()
        t = ([], [])
        for _ in range(repeat):
            for i, f in enumerate((a, b)):
                t0 = time.thread_time_ns()
                f()
                t[i].append((time.thread_time_ns() - t0) * 1e-3)
        ta, tb = np.array(t[0]), np.array(t[1])
        print(f"  {name:13s} before {ta.min():7.1f} / {np.median(ta):7.1f} µs, after "
              f"{tb.min():7.1f} / {np.median(tb):7.1f} µs (CPU, best / median of {repeat}): "
              f"saves {ta.min() - tb.min():.1f} / {np.median(ta) - np.median(tb):.1f} µs; "
              f"same bits: {same}")


def compare_planners(repeat: int = 60) -> None:
    """The chain with FFTW_ESTIMATE plans vs the shipped wisdom's plans (xband.detect.fft),
    interleaved, CPU time, best / median of ``repeat``; how much their outputs differ."""
    cpu = time.thread_time
    for case in CASES:
        p, cube, pt = _cube(case)
        chains = {}
        for planner in ("estimate", "wisdom"):
            os.environ["XBAND_FFTW_PLANNER"] = planner
            chains[planner] = DetectionChain(p, DetectConfig(range_window="taylor"))
        os.environ.pop("XBAND_FFTW_PLANNER")
        if chains["wisdom"]._blk is None:
            print("pyFFTW not in use: nothing to compare")
            return
        outs = {k: c.process(cube, pt) for k, c in chains.items()}
        a, b = outs["estimate"], outs["wisdom"]
        da, db = a.detections, b.detections
        same_n = len(da) == len(db)
        t = {k: [] for k in chains}
        for _ in range(repeat):
            for k, c in chains.items():
                t[k].append(_timeit(lambda: c.process(cube, pt), cpu) * 1e3)
        e, w = np.array(t["estimate"]), np.array(t["wisdom"])
        plans = ", ".join(f"{k} {dict(c._blk.planned)}" for k, c in chains.items())
        print(f"{case}: plans {plans}")
        print(f"    estimate {e.min():.2f} / {np.median(e):.2f} ms, wisdom {w.min():.2f} / "
              f"{np.median(w):.2f} ms CPU (best / median of {repeat}): ×{e.min() / w.min():.2f}"
              f" / ×{np.median(e) / np.median(w):.2f}")
        print(f"    map max |Δ| / peak {np.max(np.abs(a.power - b.power)) / a.power.max():.2e}, "
              f"noise {float(a.noise)!r} → {float(b.noise)!r}; "
              f"detections {len(da)} → {len(db)}" +
              (f"; max |Δrange| {np.max(np.abs(da.range - db.range)):.2e} m, |Δrange_rate| "
               f"{np.max(np.abs(da.range_rate - db.range_rate)):.2e} m/s, |Δaz| "
               f"{np.nanmax(np.abs(da.az - db.az), initial=0):.2e} rad, |Δsnr|/snr "
               f"{np.max(np.abs(da.snr - db.snr) / da.snr):.2e}" if same_n and len(da) else ""))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--compare":
        # --compare DIR [--planner-before estimate]
        compare(sys.argv[2], planner_before=sys.argv[4] if sys.argv[3:4] == ["--planner-before"]
                else None)
    elif len(sys.argv) > 2 and sys.argv[1] == "--compare-glue":
        compare_glue(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--copy-vs-in-place":
        compare_copy()
    elif len(sys.argv) > 1 and sys.argv[1] == "--tail":
        compare_tail()
    elif len(sys.argv) > 1 and sys.argv[1] == "--planners":
        compare_planners()
    elif len(sys.argv) > 1 and sys.argv[1] == "--bound-rounds":
        bound_rounds(int(sys.argv[2]) if len(sys.argv) > 2 else 8)
    else:
        main()

"""The detection chain per CPI: xband vs a straightforward numpy/scipy chain, same cube.

Groups: "chain 3x128x4096" and "chain 1x256x8192" (the whole CPI: xband.detect vs numpy FFTs
over every channel + scipy.ndimage CA-CFAR + scipy.ndimage.label), and "stage …" (each
stage of xband's chain). ``extra_info`` holds the real-time factor (CPI duration / mean
time) and, in the "bound" group, the lower bound this machine allows: the FFT flops
(5 N log2 N per complex FFT) at the best rate of the same FFT backend measured here, and the
bytes the chain must move at least (sum channel read once, map written and read) at the
measured copy bandwidth. ``python benches/bench_detect.py`` prints the same comparison as a
table (best of N runs, one thread).

    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_detect.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=mean,min,rounds
"""
import time

import numpy as np
import pytest
import scipy.fft as sfft
from scipy import ndimage

from xband.detect.cfar import alpha_for, n_training
from xband.detect.chain import DetectConfig, DetectionChain
from xband.detect.fft import FFTPlan
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


STAGES = ["range_fft", "filter_window", "range_ifft_doppler_fft", "square_law", "cfar",
          "monopulse"]


def stage_calls(chain, cube, pt):
    """name → zero-argument callable running that stage of ``chain`` on ``cube``."""
    from xband import _kernels

    k = _kernels.get("pulse")
    x = cube.data[0]
    Xf = chain._fwd(x).copy()
    buf = chain._rd.buf
    k.spectrum_weight(Xf, chain._Hd, chain._w32, buf)
    keep = buf.copy()
    X = chain._rd.execute().copy()

    def rd2():                  # the 2-D FFT (range IFFT + Doppler FFT) on the weighted spectra
        if chain._rd.kind == "scipy":
            buf[...] = keep     # scipy transforms in place; restore its input (not timed
        chain._rd.execute()     # in the chain, where the weighting pass rewrites it)
    pw = chain.square_law(X)
    out = chain.process(cube, pt)
    d, r = out.extra["d"], out.extra["r"]
    gates, bins = (r * chain.D).astype(np.int64), d.astype(np.int64)
    D = np.empty(len(d), np.complex128)

    def mono():
        for c in range(cube.data.shape[0]):
            k.gate_dft(cube.data[c], chain._hc, chain._taps, chain.dop.real_weights, gates,
                       bins, chain.M, D)

    return {
        "range_fft": lambda: chain._fwd(x),
        "filter_window": lambda: k.spectrum_weight(Xf, chain._Hd, chain._w32, buf),
        "range_ifft_doppler_fft": rd2,
        "square_law": lambda: chain.square_law(X),
        "cfar": lambda: chain.cfar.detect(pw, chain.gate_lo, chain.gate_hi),
        "monopulse": mono,
    }


@pytest.mark.parametrize("stage", STAGES)
def test_stage(benchmark, stage):
    p, cube, pt = _cube("3x128x4096")
    chain = DetectionChain(p, DetectConfig(range_window="taylor"))
    benchmark.group = "stage 3x128x4096"
    benchmark(stage_calls(chain, cube, pt)[stage])
    benchmark.extra_info.update(stage=stage)


def lower_bound(p, chain):
    """(seconds, detail): the chain's FFT flops (forward range FFTs of Ns, inverse of the
    kept Nd bins, Doppler FFTs of M over Nd gates; 5 N log2 N each) at the best FFT rate
    measured here with the same FFT backend, or the bytes it must move (sum channel read
    once, map written and read once) at the measured copy bandwidth — the larger."""
    P, Ns, Nd, M = p.pulses_per_cpi, p.samples_per_pri, chain.Nd, chain.M
    plan = FFTPlan((64, Ns), axis=1)
    a = np.ones((64, Ns), np.complex64)
    t = min(_timeit(lambda: plan(a)) for _ in range(20))
    rate = 64 * 5 * Ns * np.log2(Ns) / t                       # flop/s, best case
    big = np.ones(64 << 20, np.uint8)
    dst = np.empty_like(big)
    tb = min(_timeit(lambda: np.copyto(dst, big)) for _ in range(5))
    bw = 2 * big.nbytes / tb                                   # read + write bytes/s
    flops = (P * 5 * Ns * np.log2(Ns) + P * 5 * Nd * np.log2(Nd) + Nd * 5 * M * np.log2(M))
    bytes_ = P * Ns * 8 + 2 * M * Nd * 4
    return max(flops / rate, bytes_ / bw), dict(fft_gflops=rate / 1e9, mem_gbps=bw / 1e9,
                                                 fft_s=flops / rate, mem_s=bytes_ / bw,
                                                 fft_backend=plan.kind)


def _timeit(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


@pytest.mark.parametrize("case", list(CASES))
def test_bound(benchmark, case):
    p, _, _ = _cube(case)
    lb, info = lower_bound(p, DetectionChain(p, DetectConfig(range_window="taylor")))
    benchmark.group = "bound"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(case=case, lower_bound_s=lb, **info)


def main(repeat: int = 30) -> None:
    """Print xband vs the numpy chain, per stage, real-time factor and the lower bound."""
    def best(f, n):
        return min(_timeit(f) for _ in range(n))

    for case in CASES:
        p, cube, pt = _cube(case)
        cfg = DetectConfig(range_window="taylor")
        chain = DetectionChain(p, cfg)
        tx = best(lambda: chain.process(cube, pt), repeat)
        tn = best(lambda: numpy_chain(p, cube, cfg, chain), 3)
        lb, info = lower_bound(p, chain)
        print(f"{case}: xband {tx * 1e3:.2f} ms, numpy/scipy chain {tn * 1e3:.1f} ms "
              f"(×{tn / tx:.1f}); CPI {p.cpi_duration_s * 1e3:.1f} ms → real-time factor "
              f"{p.cpi_duration_s / tx:.2f}; lower bound {lb * 1e3:.2f} ms "
              f"(×{tx / lb:.2f} above it; FFT {info['fft_gflops']:.1f} GFlop/s "
              f"[{info['fft_backend']}], copy {info['mem_gbps']:.1f} GB/s)")
        if case == "3x128x4096":
            for name, f in stage_calls(chain, cube, pt).items():
                print(f"    {name:14s} {best(f, repeat) * 1e3:7.3f} ms")


if __name__ == "__main__":
    main()

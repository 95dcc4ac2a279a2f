"""The chain's FFTs: pyFFTW plans when pyFFTW is installed (≈1.7× faster than scipy's
pocketfft on this machine for the CPI's complex64 FFTs, measured by benches/bench_detect.py),
otherwise ``scipy.fft``. One thread per CPI (``workers=1`` / ``threads=1``); plans are
built once per shape and axis and reused, so their buffers are the chain's only cube-sized
arrays.

Which FFTW algorithm a plan runs decides the rounding of its output, so the planner must
not depend on timing: FFTW_MEASURE/PATIENT time candidate algorithms at planning, and two
processes (or two machines) may pick different ones — a run would no longer be
bit-reproducible from its seed (``xband record-iq`` then ``xband detect --sigmf``, the
demo's pinned miss distance). ``XBAND_FFTW_PLANNER`` (read when a plan is made):

* ``wisdom`` (default): the plans recorded in ``xband.detect.fftw_wisdom`` (FFTW wisdom made
  once with FFTW_PATIENT on the development machine and shipped with the package, for the
  default radar's CPI and the benchmarks' large CPI), imported for each plan and used
  with ``FFTW_WISDOM_ONLY`` — nothing is timed at run time, no file is written, so every
  process on every machine where the wisdom applies (the same FFTW build, which FFTW checks
  on import, and a CPU with the instruction sets of its codelets, checked here) runs the
  same algorithm and gets the same bits, the first run as every later one. A transform
  the wisdom does not hold (other sizes, e.g. the demo's CPI), or a machine where it does
  not apply, gets its FFTW_ESTIMATE plan, exactly as with ``estimate``. The global wisdom
  is cleared around each such plan, so what else was planned in the process never
  changes a plan.
* ``estimate``: FFTW_ESTIMATE everywhere (the heuristic plan: reproducible, slower for
  the 4096-point range FFTs of the default CPI).
* ``measure`` / ``patient``: time the candidates now (faster on this very machine, not
  reproducible; ``patient`` is what ``python -m xband.detect.fft --make-wisdom`` uses).

``XBAND_FFT=scipy`` forces scipy.fft (e.g. to compare).
"""
from __future__ import annotations

import os
import re
import threading
from collections import Counter

import numpy as np
import scipy.fft as sfft

try:                                             # optional: the "fast" extra
    import pyfftw
except ImportError:                              # pragma: no cover - depends on the env
    pyfftw = None

from ..errors import ConfigError

_WISDOM_LOCK = threading.RLock()                 # import → plan → forget, one at a time


def backend() -> str:
    if pyfftw is not None and os.environ.get("XBAND_FFT", "").lower() != "scipy":
        return "pyfftw"
    return "scipy"


PLANNERS = ("wisdom", "estimate", "measure", "patient")


def planner() -> str:
    """``XBAND_FFTW_PLANNER`` (module doc): wisdom (default), estimate, measure, patient."""
    mode = os.environ.get("XBAND_FFTW_PLANNER", "wisdom").strip().lower() or "wisdom"
    if mode not in PLANNERS:
        raise ConfigError(f"XBAND_FFTW_PLANNER: expected one of {', '.join(PLANNERS)}, "
                          f"got {mode!r}")
    return mode


#: codelet suffix of FFTW's SIMD → the CPU features (numpy's names) it needs
_SIMD_NEEDS = (("avx512", ("AVX512F",)), ("avx2", ("AVX2", "FMA3")),
               ("avx_128_fma", ("AVX", "FMA4")), ("avx", ("AVX",)), ("sse2", ("SSE2",)))


def _cpu_features() -> dict:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as f
    except ImportError:                          # pragma: no cover - numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as f
        except ImportError:
            return {}
    return dict(f)


def wisdom_needs(text: bytes) -> set | None:
    """The CPU features (numpy's names) the codelets named in FFTW wisdom ``text`` need;
    None if one is a SIMD codelet of an instruction set not known here."""
    need = set()
    for name in set(re.findall(rb"codelet_(\w+)", text)):
        n = name.decode()                        # e.g. n1bv_128_avx, t2fv_64_avx, n1_64
        for suffix, feats in _SIMD_NEEDS:
            if n.endswith("_" + suffix):
                need.update(feats)
                break
        else:
            if n.split("_")[0].endswith("v"):     # a SIMD kind of an unknown ISA
                return None
    return need


_shipped = None                                  # cached: the wisdom bytes, or b"" (none)


def shipped_wisdom() -> bytes:
    """The single-precision wisdom of ``xband.detect.fftw_wisdom`` if it applies here
    (FFTW accepts it and the CPU has every instruction set its codelets use), else b"".
    Leaves FFTW's global wisdom empty."""
    global _shipped
    if _shipped is None:
        _shipped = b""
        try:
            from .fftw_wisdom import WISDOM_F
        except ImportError:                      # pragma: no cover - not generated
            WISDOM_F = b""
        need = wisdom_needs(WISDOM_F) if WISDOM_F else None
        feats = _cpu_features()
        if pyfftw is not None and need is not None and all(feats.get(f) for f in need):
            with _WISDOM_LOCK:
                pyfftw.forget_wisdom()
                if pyfftw.import_wisdom((b"", WISDOM_F, b""))[1]:
                    _shipped = WISDOM_F
                pyfftw.forget_wisdom()
    return _shipped


def make_fftw(inp, out, axes, direction):
    """pyFFTW plan of ``inp`` → ``out`` along ``axes`` (one thread) by the planner of
    ``planner()``: (plan, "wisdom" | "estimate" | "measure" | "patient"). Plans are made
    one at a time (a lock): FFTW_ESTIMATE consults whatever wisdom is loaded, so no plan
    may be made while another thread has the shipped wisdom imported."""
    mode = planner()
    with _WISDOM_LOCK:
        if mode == "wisdom":
            w = shipped_wisdom()
            if w:
                pyfftw.forget_wisdom()
                pyfftw.import_wisdom((b"", w, b""))
                try:
                    return pyfftw.FFTW(inp, out, axes=axes, direction=direction,
                                       flags=("FFTW_PATIENT", "FFTW_WISDOM_ONLY"),
                                       threads=1), "wisdom"
                except RuntimeError:             # not in the wisdom: its ESTIMATE plan
                    pass
                finally:
                    pyfftw.forget_wisdom()
            mode = "estimate"
        return pyfftw.FFTW(inp, out, axes=axes, direction=direction,
                           flags=("FFTW_" + mode.upper(),), threads=1), mode


class FFTPlan:
    """y = FFT/IFFT of a (rows, cols) complex64 array along ``axis`` with length ``n``
    (zero padding when n exceeds the input length along axis 0).

    ``__call__(x)`` returns a view of the plan's own output buffer: the caller must use it
    (or copy it) before the plan runs again."""

    def __init__(self, shape, axis: int, inverse: bool = False, n: int | None = None,
                 inp: np.ndarray | None = None):
        self.shape, self.axis, self.inverse = tuple(shape), axis, inverse
        self.n = n or shape[axis]
        self.kind = backend()
        if self.kind == "pyfftw":
            out_shape = list(shape)
            out_shape[axis] = self.n
            self.inp = inp if inp is not None else pyfftw.empty_aligned(tuple(out_shape),
                                                                        "complex64")
            self.out = pyfftw.empty_aligned(tuple(out_shape), "complex64")
            self.plan, self.planned = make_fftw(
                self.inp, self.out, (axis,), "FFTW_BACKWARD" if inverse else "FFTW_FORWARD")
            self.scale = np.float32(1.0 / self.n) if inverse else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "scipy":
            f = sfft.ifft if self.inverse else sfft.fft
            return f(x, n=self.n, axis=self.axis, workers=1)
        if x.shape != self.inp.shape:           # zero-pad along axis 0
            self.inp[: x.shape[0]] = x
            self.inp[x.shape[0]:] = 0
            x = self.inp
        # FFTW reads x in place when its alignment matches the plan's (else pyFFTW copies
        # it into the plan's input array); chained plans pass the shared buffer itself
        return self.plan(x, normalise_idft=True)

    def input_buffer(self) -> np.ndarray | None:
        """The plan's input array (write into it directly to save a copy), or None."""
        return self.inp if self.kind == "pyfftw" else None

    def execute(self) -> np.ndarray:
        """Run on what was written into ``input_buffer()``."""
        return self.plan(self.inp, normalise_idft=True)


class Backward2D:
    """Unnormalised 2-D backward FFT, y[k, n] = Σ_q Σ_j b[q, j] e^{+j2π(kq/M + nj/N)}, of
    the plan's own (M, N) complex64 input buffer (``buf``; write into it, then
    ``execute()``). The chain's range IFFT and Doppler FFT in one transform: the pulses go
    in reversed modulo M, which turns the backward transform along them into the forward
    one (``xband.reference.pulse.spectrum_weight``), so there is no separate 1/N
    normalisation pass (the chain folds it into its filter) and no copy between plans.

    pyFFTW: two 1-D plans, along rows out of place (buf → out), then along columns in
    place in ``out`` — FFTW_ESTIMATE's own 2-D plan computes the same passes but was as
    fast at 128 × 2048 and 1.4× slower at 256 × 4096 here. The output rows are padded by
    ``PAD`` samples (``out`` is a view of the C-contiguous ``out_full``): with a power-of-two
    row stride the column FFT hits the same cache sets at every step (256 × 4096: 18 ms;
    padded: 6 ms). scipy: ``scipy.fft.ifft2``."""

    PAD = 8

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.kind = backend()
        if self.kind == "pyfftw":
            self.buf = pyfftw.empty_aligned(self.shape, "complex64")
            M, N = self.shape
            self.out_full = pyfftw.empty_aligned((M, N + self.PAD), "complex64")
            self.out_full[...] = 0
            self.out = self.out_full[:, :N]
            self.rows, a = make_fftw(self.buf, self.out, (1,), "FFTW_BACKWARD")
            self.cols, b = make_fftw(self.out, self.out, (0,), "FFTW_BACKWARD")
            self.planned = Counter((a, b))
        else:
            self.buf = np.empty(self.shape, np.complex64)
        self.buf[...] = 0

    def execute(self) -> np.ndarray:
        """Transform of ``buf``: ``out``, the first N columns of the C-contiguous
        ``out_full``, valid until the next call. ``buf`` may be overwritten (scipy): the
        caller rewrites it, zero rows included, per call."""
        if self.kind == "pyfftw":
            self.rows.execute()
            self.cols.execute()
            return self.out
        self.out_full = self.out = sfft.ifft2(self.buf, norm="forward", workers=1,
                                              overwrite_x=True)
        return self.out


#: Samples (pulses × Ns) per block of the block-wise map: a block's input, spectra and
#: weighted rows (≈ 3 · 32768 · 8 bytes = 768 kB: 8 pulses of 4096 samples, 4 of 8192) stay
#: in the L2 cache between the passes (4–8 pulses of 4096 were fastest here, 2 and 32 slower).
BLOCK_SAMPLES = 32768


class BlockMap:
    """pyFFTW plans of the chain's block-wise range-Doppler map (see
    ``xband.detect.chain.DetectionChain.range_doppler``): the (M, N) map buffer of
    ``Backward2D`` (rows padded), and per block of pulses a forward range FFT of its
    ``n_in`` input rows (``inp`` → ``spec``, out of place, sized for the cache), and a
    backward range FFT of its weighted rows (``wbuf``) written straight into the map rows
    that block owns; then the Doppler (column) FFT in place, over all columns
    (``rd.cols``), only over [c_lo, c_hi) (``cols_part``), or over the same columns in
    cache-sized blocks (``col_blocks``, for the chain's FFT + square law per block).

    ``segments``: per block (first input pulse j0, end of its input pulses, input view,
    forward plan, spectra view, slice of its output pulses, reversed?, weighted-rows view,
    backward plan); output pulse j goes to map row (M − j) mod M, so a block's rows are
    contiguous and reversed (row 0: pulse 0, a block of its own)."""

    def __init__(self, M: int, Ns: int, N: int, n_out: int, T: int, c_lo: int, c_hi: int,
                 block: int | None = None):
        self.rd = Backward2D((M, N))             # its map buffer and full column plan
        self.M, self.N, self.n_out, self.T = M, N, n_out, T
        b = max(1, min(block or BLOCK_SAMPLES // Ns, n_out))
        self.block = b
        self.inp = pyfftw.empty_aligned((b + T - 1, Ns), "complex64")
        self.spec = pyfftw.empty_aligned((b + T - 1, Ns), "complex64")
        self.wbuf = pyfftw.empty_aligned((b, N), "complex64")
        self.planned = Counter(self.rd.planned)      # how each plan was made (make_fftw)

        def plan(i, o, axis, direction):
            pl, how = make_fftw(i, o, (axis,), direction)
            self.planned[how] += 1
            return pl

        self.fwd = {}
        self.segments = []
        out = self.rd.out_full
        for j0, nb in [(0, 1)] + [(j, min(b, n_out - j)) for j in range(1, n_out, b)]:
            r = nb + T - 1
            if r not in self.fwd:
                self.fwd[r] = plan(self.inp[:r], self.spec[:r], 1, "FFTW_FORWARD")
            row0 = 0 if j0 == 0 else M - j0 - nb + 1
            inv = plan(self.wbuf[:nb], out[row0:row0 + nb, :N], 1, "FFTW_BACKWARD")
            self.segments.append((j0, j0 + r, self.inp[:r], self.fwd[r], self.spec[:r],
                                  slice(j0, j0 + nb), j0 != 0, self.wbuf[:nb], inv))
        # rows of no pulse (zero padding to M): 1 … M − n_out
        self.pad_rows = slice(1, M - n_out + 1)
        # Doppler FFT over the needed columns only, widened to SIMD-aligned bounds
        a = max(1, pyfftw.simd_alignment // 8)
        self.c_lo, self.c_hi = (c_lo // a) * a, min(N, -(-c_hi // a) * a)
        view = out[:, self.c_lo:self.c_hi]
        self.cols_part = plan(view, view, 0, "FFTW_BACKWARD")
        # the same columns in blocks of ≈ BLOCK_SAMPLES cells (aligned widths), each
        # squared right after its FFT while in cache: (c0, c1, plan)
        w = max(a, (BLOCK_SAMPLES // M) // a * a)
        self.col_blocks = []
        for c0 in range(self.c_lo, self.c_hi, w):
            c1 = min(self.c_hi, c0 + w)
            v = out[:, c0:c1]
            self.col_blocks.append((c0, c1, plan(v, v, 0, "FFTW_BACKWARD")))


def wisdom_chains():
    """(RadarParams, DetectConfig) of the CPIs whose plans ``xband.detect.fftw_wisdom``
    holds: the default radar (3 × 128 × 4096; no MTI, 2- and 3-pulse MTI; any window or
    CFAR kind, which do not change the transforms) and the benchmarks' 1 × 256 × 8192."""
    from ..radar.params import RadarParams
    from .chain import DetectConfig
    big = RadarParams(sample_rate_hz=81.92e6, bandwidth_hz=20e6, pulses_per_cpi=256)
    return [(RadarParams(), DetectConfig(mti_order=m)) for m in (0, 2, 3)] + \
        [(big, DetectConfig())]


def make_wisdom(path: str, planner_flag: str = "patient") -> bytes:
    """Plan every transform of ``wisdom_chains()`` with FFTW_PATIENT (≈ 1 min; the choice
    depends on timing, so this is done once, deliberately, and the result is committed:
    re-making it may change the chain's bits) and write the single-precision wisdom as
    the module ``path`` (``xband/detect/fftw_wisdom.py``)."""
    import datetime
    import platform

    from .chain import DetectionChain

    if backend() != "pyfftw":
        raise ConfigError("make_wisdom: pyFFTW is not in use (XBAND_FFT=scipy or no pyFFTW)")
    old = os.environ.get("XBAND_FFTW_PLANNER")
    os.environ["XBAND_FFTW_PLANNER"] = planner_flag
    try:
        pyfftw.forget_wisdom()
        for params, cfg in wisdom_chains():
            DetectionChain(params, cfg)
        w = pyfftw.export_wisdom()[1]
        pyfftw.forget_wisdom()
    finally:
        if old is None:
            del os.environ["XBAND_FFTW_PLANNER"]
        else:
            os.environ["XBAND_FFTW_PLANNER"] = old
    feats = sorted(wisdom_needs(w) or ())
    lines = [
        "# ruff: noqa: E501  (FFTW's wisdom lines, verbatim)",
        '"""FFTW wisdom of the detection chain\'s transforms (``xband.detect.fft``, planner',
        '``wisdom``), made by ``python -m xband.detect.fft --make-wisdom`` with',
        f'FFTW_{planner_flag.upper()} on {datetime.date.today().isoformat()} '
        f'({platform.machine()}, pyFFTW {pyfftw.__version__}).',
        '',
        'Generated once and committed: every process imports exactly these plans, so the',
        "chain's bits do not depend on timing. Re-making it may pick other algorithms",
        '(other last bits): do it only deliberately. Needs the CPU features',
        f'{", ".join(feats) or "(none)"}; FFTW rejects it on import if its build differs.',
        '"""',
        '',
        'WISDOM_F = (',
    ]
    lines += [f"    {(ln + chr(10)).encode()!r}" for ln in w.decode().splitlines()]
    lines += [")", ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    global _shipped
    _shipped = None
    return w


if __name__ == "__main__":                        # pragma: no cover - maintenance tool
    import sys

    if sys.argv[1:2] != ["--make-wisdom"]:
        sys.exit("usage: python -m xband.detect.fft --make-wisdom [PATH]")
    target = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__),
                                                                 "fftw_wisdom.py")
    print(f"wrote {target}: {len(make_wisdom(target))} bytes of wisdom")

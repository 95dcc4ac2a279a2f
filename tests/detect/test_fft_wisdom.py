"""The chain's FFTW plans (xband.detect.fft, planner ``wisdom``): the default radar's CPI is
planned from the wisdom shipped in xband.detect.fftw_wisdom (FFTW_WISDOM_ONLY, nothing timed
at run time), so its bits are the same in every process — a fresh one, and one that planned
other transforms (any planner) before — while every other size keeps exactly its
FFTW_ESTIMATE plan and bits (the demo's CPI among them). The shipped plans compute the same
map as the ESTIMATE ones to float32 rounding; the wisdom is refused where FFTW or the CPU
cannot run it (the chain then plans as with ``estimate``)."""
import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from xband.detect import fft as xfft
from xband.detect.chain import DetectConfig, DetectionChain
from xband.errors import ConfigError
from xband.radar.params import RadarParams
from xband.radar.scene import aligned_empty

pytestmark = pytest.mark.skipif(xfft.pyfftw is None or xfft.backend() != "pyfftw",
                                reason="pyFFTW (the fast extra) not in use")

P_SMALL = dict(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
               pulse_width_s=8e-6, peak_power_w=2e3)

needs_shipped = pytest.mark.skipif(
    xfft.pyfftw is None or not xfft.shipped_wisdom(),
    reason="the shipped wisdom does not apply here (other FFTW build or CPU): "
           "the chain plans with FFTW_ESTIMATE")


def _x(params, seed=3):
    """An aligned (as the scene's cubes) sum channel of noise and one strong tone."""
    rng = np.random.default_rng(seed)
    P, Ns = params.pulses_per_cpi, params.samples_per_pri
    x = aligned_empty((P, Ns))
    x[...] = rng.standard_normal((P, Ns)) + 1j * rng.standard_normal((P, Ns))
    x[:, Ns // 3:Ns // 3 + 20] += 30 * np.exp(2j * np.pi * 0.1 * np.arange(P))[:, None]
    return x


def _chain(monkeypatch, planner, params=None, **cfg):
    monkeypatch.setenv("XBAND_FFTW_PLANNER", planner)
    return DetectionChain(params or RadarParams(), DetectConfig(**cfg))


def _md5(a) -> str:
    return hashlib.md5(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_wisdom_needs_names_the_codelets_instruction_sets():
    w = (b"(fftw-3.3.5 fftwf_wisdom #x1 #x2 #x3 #x4\n"
         b"  (fftwf_codelet_n1bv_128_avx 0 #x11048 #x11048 #x0 #x1 #x2 #x3 #x4)\n"
         b"  (fftwf_codelet_t2fv_64_avx2 0 #x11048 #x11048 #x0 #x1 #x2 #x3 #x4)\n"
         b"  (fftwf_codelet_n1_64 0 #x11048 #x11048 #x0 #x1 #x2 #x3 #x4)\n"
         b"  (fftwf_dft_vrank_geq1_register 0 #x11048 #x11048 #x0 #x1 #x2 #x3 #x4))\n")
    assert xfft.wisdom_needs(w) == {"AVX", "AVX2", "FMA3"}
    assert xfft.wisdom_needs(b"(fftwf_codelet_n1_64 0)(fftwf_codelet_t1_16 0)") == set()
    assert xfft.wisdom_needs(b"(fftwf_codelet_n1fv_16_neon 0)") is None     # unknown ISA
    from xband.detect.fftw_wisdom import WISDOM_F
    assert WISDOM_F.startswith(b"(fftw-3") and xfft.wisdom_needs(WISDOM_F) is not None


def test_planner_setting_is_checked(monkeypatch):
    monkeypatch.setenv("XBAND_FFTW_PLANNER", "fastest")
    with pytest.raises(ConfigError, match="XBAND_FFTW_PLANNER.*fastest"):
        DetectionChain(RadarParams.demo(), DetectConfig())


@needs_shipped
@pytest.mark.parametrize("mti_order", [0, 2, 3])
def test_default_cpi_is_planned_from_the_shipped_wisdom(monkeypatch, mti_order):
    ch = _chain(monkeypatch, "wisdom", mti_order=mti_order, range_window="hamming",
                cfar="go")
    assert set(ch._blk.planned) == {"wisdom"} and ch._blk.planned["wisdom"] >= 20


@needs_shipped
def test_shipped_plans_bits_do_not_depend_on_the_process(monkeypatch):
    """The same bits from a fresh process, from this one, after other plans (measured
    ones of the same transforms included) were made in between, and from an unaligned
    copy of the cube; and the same map as the FFTW_ESTIMATE plans up to float32 rounding
    (another algorithm, other last bits)."""
    p = RadarParams()
    x = _x(p)
    first = _chain(monkeypatch, "wisdom").power_map(x)
    code = ("import hashlib, sys; sys.path.insert(0, %r); import test_fft_wisdom as t; "
            "from xband.radar.params import RadarParams; "
            "from xband.detect.chain import DetectionChain; "
            "p = RadarParams(); print(t._md5(DetectionChain(p).power_map(t._x(p))))"
            % os.path.dirname(__file__))
    env = dict(os.environ, XBAND_FFTW_PLANNER="wisdom")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _md5(first)
    # other plans in between: the estimate chain, a measured plan of the very same shape
    est = _chain(monkeypatch, "estimate").power_map(x)
    a = xfft.pyfftw.empty_aligned((8, 4096), "complex64")
    xfft.pyfftw.FFTW(a, xfft.pyfftw.empty_aligned((8, 4096), "complex64"), axes=(1,),
                     flags=("FFTW_MEASURE",), threads=1)
    ch = _chain(monkeypatch, "wisdom")
    assert np.array_equal(ch.power_map(x), first)
    # a cube the plans cannot read in place (e.g. a SigMF memmap) is copied block by
    # block into the plans' own buffer: the same plans, the same bits
    raw = np.empty(x.nbytes + 16, np.uint8)
    off = 8 if (raw.ctypes.data + 8) % 16 else 16
    u = raw[off:off + x.nbytes].view(np.complex64).reshape(x.shape)
    u[...] = x
    assert not ch._reads_in_place(u)
    assert np.array_equal(ch.power_map(u), first)
    peak = float(est.max())
    assert np.max(np.abs(first - est)) <= 2e-6 * peak
    assert not np.array_equal(first, est)     # the shipped plans are other algorithms


@pytest.mark.parametrize("params", [RadarParams.demo(), RadarParams(**P_SMALL)],
                         ids=["demo", "small"])
def test_other_sizes_keep_their_estimate_plans_and_bits(monkeypatch, params):
    """A CPI the wisdom does not hold (the demo's: its miss distance stays pinned) is
    planned with FFTW_ESTIMATE, bit-identical to the ``estimate`` planner."""
    x = _x(params)
    ch = _chain(monkeypatch, "wisdom", params)
    assert set(ch._blk.planned) == {"estimate"}
    assert np.array_equal(ch.power_map(x), _chain(monkeypatch, "estimate", params).power_map(x))


@pytest.mark.parametrize("why", ["cpu", "header"])
def test_wisdom_refused_where_it_cannot_run(monkeypatch, why):
    """No AVX (as FFTW's codelets need), or wisdom of another FFTW build: nothing
    imported, the default CPI planned with FFTW_ESTIMATE (the ``estimate`` bits)."""
    import xband.detect.fftw_wisdom as shipped
    monkeypatch.setattr(xfft, "_shipped", None)
    if why == "cpu":
        monkeypatch.setattr(xfft, "_cpu_features", lambda: {"SSE2": True})
    else:
        head, rest = shipped.WISDOM_F.split(b"\n", 1)      # another build's signature
        monkeypatch.setattr(shipped, "WISDOM_F",
                            re.sub(rb"#x[0-9a-f]+", b"#x1", head, count=1) + b"\n" + rest)
    assert xfft.shipped_wisdom() == b""
    ch = _chain(monkeypatch, "wisdom")
    assert set(ch._blk.planned) == {"estimate"}


def test_make_wisdom_writes_an_importable_module(monkeypatch, tmp_path):
    """The maintenance tool (``python -m xband.detect.fft --make-wisdom``) writes a module
    whose WISDOM_F FFTW accepts; run here with the quick ``estimate`` planner (the
    committed file is made with ``patient``), leaving the planner setting as it was."""
    import runpy
    monkeypatch.setattr(xfft, "_shipped", None)
    monkeypatch.setenv("XBAND_FFTW_PLANNER", "wisdom")
    path = tmp_path / "w.py"
    w = xfft.make_wisdom(str(path), "estimate")
    assert os.environ["XBAND_FFTW_PLANNER"] == "wisdom"
    ns = runpy.run_path(str(path))
    assert ns["WISDOM_F"] == w and w.startswith(b"(fftw-3")
    xfft.pyfftw.forget_wisdom()
    assert xfft.pyfftw.import_wisdom((b"", ns["WISDOM_F"], b""))[1]
    xfft.pyfftw.forget_wisdom()

"""The block-wise range-Doppler map (xband.detect.chain.range_doppler, kernels ext/rdmap.pyx):
its kernels equal their numpy twins and the per-pulse ``pulse.spectrum_weight``; the map
equals the textbook chain written out in numpy (compress every pulse, MTI, window, FFT
along pulses, fftshift) to float32 rounding, and with pyFFTW it is bit-identical to the
whole-cube plans it replaced; the detector's columns are the same whether or not the
other columns are Doppler-processed."""
import numpy as np
import pytest

from xband import _kernels
from xband.detect import fft as xfft
from xband.detect.chain import DetectConfig, DetectionChain
from xband.detect.doppler import mti
from xband.errors import InputError
from xband.radar.params import RadarParams
from xband.radar.scene import complex_noise, direction_of, synthesize
from xband.reference import rdmap as r_rdmap

c_rdmap = pytest.importorskip("xband._ext.rdmap")
c_pulse = pytest.importorskip("xband._ext.pulse")

pytestmark = pytest.mark.reference_rerun

P_SMALL = dict(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
               pulse_width_s=8e-6, peak_power_w=2e3)


def _cx(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("taps", [[1.0], [1.0, -1.0], [1.0, -2.0, 1.0]])
@pytest.mark.parametrize("Nd", [64, 32, 16])
@pytest.mark.parametrize("reverse", [False, True])
def test_weight_block_twins(rng, taps, Nd, reverse):
    taps = np.array(taps) / np.linalg.norm(taps)
    nb, Ns = 5, 64
    F = _cx(rng, nb + taps.size - 1, Ns)
    H, w = _cx(rng, Nd), rng.standard_normal(nb).astype(np.float32)
    a = np.full((nb, Nd), 7, np.complex64)
    b = np.full((nb, Nd), 7, np.complex64)
    c_rdmap.weight_block(F, H, taps, w, reverse, a)
    r_rdmap.weight_block(F, H, taps, w, reverse, b)
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)
    # against the definition: canceller in double, kept bins, H·w, rows reversed or not
    k = np.arange(Nd)
    k = np.where(k < Nd // 2, k, k + Ns - Nd)
    y = mti(F.astype(np.complex128), len(taps) if len(taps) > 1 else 0, axis=0)[:nb, k]
    want = y * H[None, :] * w[:, None]
    np.testing.assert_allclose(a, want[::-1] if reverse else want, rtol=1e-5, atol=1e-5)


def test_weight_block_equals_spectrum_weight_exactly(rng):
    """Block by block, the compiled pass does the float32 operations of the per-CPI
    ``pulse.spectrum_weight`` in the same order: the same bits."""
    P, Ns, Nd, M = 12, 64, 32, 14
    X = _cx(rng, P, Ns)
    H, w = _cx(rng, Nd), rng.random(P).astype(np.float32)
    whole = np.zeros((M, Nd), np.complex64)
    c_pulse.spectrum_weight(X, H, w, whole)
    one = np.ones(1)
    blk = np.empty((4, Nd), np.complex64)
    c_rdmap.weight_block(X[:1], H, one, w[:1], False, blk[:1])
    assert np.array_equal(blk[0], whole[0])
    for j0 in range(1, P, 4):                       # pulse j → row M − j (reversed block)
        nb = min(4, P - j0)
        c_rdmap.weight_block(X[j0:j0 + nb], H, one, w[j0:j0 + nb], True, blk[:nb])
        assert np.array_equal(blk[:nb], whole[M - j0 - nb + 1:M - j0 + 1])


def test_square_law_cols_twins(rng):
    X = _cx(rng, 7, 41) * 10
    a = np.full((7, 33), 5, np.float32)
    b = np.full((7, 33), 5, np.float32)
    c_rdmap.square_law_cols(X, 4, 29, a)
    r_rdmap.square_law_cols(X, 4, 29, b)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a[:, 4:29], np.abs(X[:, 4:29]) ** 2, rtol=1e-5)
    assert np.all(a[:, :4] == 5) and np.all(a[:, 29:] == 5)     # other columns untouched
    assert np.all(b[:, :4] == 5) and np.all(b[:, 29:] == 5)
    c_rdmap.square_law_cols(X, 0, 33, a)                 # every column
    np.testing.assert_allclose(a, np.abs(X[:, :33]) ** 2, rtol=1e-5)


def _textbook_map(chain, x):
    """Compress every pulse (full-length FFT filter, band kept, decimated inverse), MTI,
    window, Doppler FFT over M bins, fftshift — in complex128."""
    p, D, Nd = chain.params, chain.D, chain.Nd
    Ns = p.samples_per_pri
    H = np.conj(np.fft.fft(chain.comp.h, Ns))
    Xf = np.fft.fft(x.astype(np.complex128), axis=1) * H
    k = np.arange(Nd)
    k = np.where(k < Nd // 2, k, k + Ns - Nd)
    y = np.fft.ifft(Xf[:, k], axis=1) / D                # = the filter output at n·D
    y = mti(y, chain.config.mti_order, axis=0)
    Y = np.fft.fft(y * chain.dop.w[:, None], n=chain.M, axis=0)
    return np.fft.fftshift(Y, axes=0)


@pytest.mark.parametrize("fft", ["default", "scipy"])
@pytest.mark.parametrize("P, mti_order", [(32, 0), (31, 0), (32, 2), (31, 3), (13, 2)])
def test_map_equals_textbook_chain(backend, monkeypatch, rng, P, mti_order, fft):
    p = RadarParams(**{**P_SMALL, "pulses_per_cpi": P})
    monkeypatch.setattr(xfft, "BLOCK_SAMPLES", 5 * p.samples_per_pri)     # several blocks
    if fft == "scipy":                      # the whole-cube scipy.fft path (no pyFFTW)
        monkeypatch.setenv("XBAND_FFT", "scipy")
    chain = DetectionChain(p, DetectConfig(range_window="taylor", mti_order=mti_order))
    assert (chain._blk is None) == (xfft.backend() == "scipy")
    x = complex_noise((P, p.samples_per_pri), rng)
    x[:, :p.pulse_samples] = 0
    x[:, 300] += 30.0 * np.exp(2j * np.pi * 0.23 * np.arange(P))      # a strong mover
    got = chain.range_doppler(x).copy()
    want = _textbook_map(chain, x)
    assert got.shape == want.shape == (chain.M, chain.Nd)
    err = np.max(np.abs(got - want)) / np.max(np.abs(want))
    assert err < 2e-6, err
    # the chain's own call transforms only the detector's columns: the same values there
    part = chain.range_doppler(x, full=False)
    lo, hi = chain.col_lo, chain.col_hi
    assert 0 <= lo <= chain.gate_lo - chain.cfar.guard_r - chain.cfar.train_r - 1
    assert chain.gate_hi + chain.cfar.guard_r + chain.cfar.train_r + 1 <= hi <= chain.Nd
    assert np.array_equal(part[:, lo:hi], got[:, lo:hi])


def test_process_power_zero_outside_read_columns(monkeypatch, rng):
    p = RadarParams(**P_SMALL)
    pos = np.array([[3000.0, 4000.0, 500.0]])
    pt = direction_of(pos[0])
    cube = synthesize(p, 0.0, pos, np.array([[-50.0, -80.0, 0.0]]), [1.0], rng, pointing=pt)
    monkeypatch.setattr(xfft, "BLOCK_SAMPLES", 5 * p.samples_per_pri)   # blocks of columns
    chain = DetectionChain(p)
    if chain._blk is not None:
        assert len(chain._blk.col_blocks) >= 3
    out = chain.process(cube, pt)
    full = np.abs(chain.range_doppler(cube.data[0]).astype(np.complex128)) ** 2
    lo, hi = chain.col_lo, chain.col_hi
    np.testing.assert_allclose(out.power[:, lo:hi], full[:, lo:hi], rtol=1e-5)
    assert np.all(out.power[:, :lo] == 0) and np.all(out.power[:, hi:] == 0)
    assert len(out.detections) >= 1
    for f in (chain.range_doppler, chain.power_map):
        with pytest.raises(InputError, match="sum channel"):
            f(cube.data[0][:, :-1])


@pytest.mark.skipif(xfft.pyfftw is None, reason="pyFFTW (the fast extra) not installed")
@pytest.mark.parametrize("P, mti_order", [(32, 0), (31, 2), (32, 3)])
def test_block_map_bit_identical_to_whole_cube_plans(monkeypatch, rng, P, mti_order):
    """The block-wise map (per-block FFTW_ESTIMATE plans: these sizes are not in the shipped
    wisdom, test_fft_wisdom.py) gives the same bits as the whole-cube plans it replaced:
    range FFT of all pulses, MTI, ``pulse.spectrum_weight``, one padded 2-D backward FFT."""
    monkeypatch.delenv("XBAND_FFT", raising=False)
    monkeypatch.delenv("XBAND_FFTW_PLANNER", raising=False)
    p = RadarParams(**{**P_SMALL, "pulses_per_cpi": P})
    monkeypatch.setattr(xfft, "BLOCK_SAMPLES", 5 * p.samples_per_pri)     # 5-pulse blocks
    chain = DetectionChain(p, DetectConfig(range_window="taylor", mti_order=mti_order))
    assert chain._blk is not None and chain._blk.block == 5
    x = complex_noise((P, p.samples_per_pri), rng)
    got = chain.range_doppler(x).copy()
    fwd = xfft.FFTPlan((P, p.samples_per_pri), axis=1)
    rd = xfft.Backward2D((chain.M, chain.Nd))
    Xf = fwd(x)
    if mti_order:
        Xf = np.ascontiguousarray(mti(Xf, mti_order, axis=0))
    _kernels.get("pulse").spectrum_weight(Xf, chain._Hd, chain._w32, rd.buf)
    assert np.array_equal(got, rd.execute())

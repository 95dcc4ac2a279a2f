"""Pulse compression (gain, sidelobes, resolution, alignment) and the MTI improvement
factor against theory."""
import numpy as np
import pytest

from xband.detect.compress import PulseCompressor
from xband.detect.doppler import mti
from xband.radar.params import C, RadarParams
from xband.radar.scene import Clutter, add_clutter, synthesize


def _params(**kw):
    base = dict(sample_rate_hz=40.96e6, bandwidth_hz=10e6, pulse_width_s=10e-6,
                prf_hz=10e3, pulses_per_cpi=8)
    base.update(kw)
    return RadarParams(**base)


def test_compression_gain_is_time_bandwidth(rng):
    p = _params()
    pc = PulseCompressor(p, "none")
    # noise only: output noise power; unit-power noise in fs → noise power in B is B/fs
    w = ((rng.standard_normal((64, 4096)) + 1j * rng.standard_normal((64, 4096)))
         / np.sqrt(2)).astype(np.complex64)
    w[:, :p.pulse_samples] = 0
    noise_out = np.mean(np.abs(pc.apply(w)[:, 2 * p.pulse_samples:-p.pulse_samples]) ** 2)
    a = 1e-3
    x = np.zeros((1, 4096), np.complex64)
    n0 = 1500
    from xband.radar.waveform import replica
    x[0, n0:n0 + p.pulse_samples] = a * replica(p)
    y = np.abs(pc.apply(x)[0]) ** 2
    assert np.argmax(y) == n0                              # sample n ↔ delay n/fs
    snr_in_band = a * a / (p.bandwidth_hz / p.sample_rate_hz)
    gain_db = 10 * np.log10(y.max() / noise_out / snr_in_band)
    assert gain_db == pytest.approx(10 * np.log10(p.time_bandwidth), abs=0.3)


def test_lfm_peak_sidelobe_unwindowed():
    p = _params(sample_rate_hz=81.92e6, prf_hz=20e3, bandwidth_hz=5e6, pulse_width_s=20e-6)
    pc = PulseCompressor(p, "none")
    x = np.zeros((1, p.samples_per_pri), np.complex64)
    from xband.radar.waveform import replica
    n0 = 2000
    x[0, n0:n0 + p.pulse_samples] = replica(p)
    y = np.abs(pc.apply(x)[0]) ** 2
    null = int(round(p.sample_rate_hz / p.bandwidth_hz))      # first null at 1/B
    side = np.r_[y[n0 - 3 * p.pulse_samples // 4:n0 - null], y[n0 + null:n0 + 3 * p.pulse_samples // 4]]
    psl = 10 * np.log10(side.max() / y[n0])
    assert psl == pytest.approx(-13.3, abs=0.3)
    wpc = PulseCompressor(p, "taylor")
    yw = np.abs(wpc.apply(x)[0]) ** 2
    sidew = np.r_[yw[n0 - 3 * p.pulse_samples // 4:n0 - 2 * null],
                  yw[n0 + 2 * null:n0 + 3 * p.pulse_samples // 4]]
    assert 10 * np.log10(sidew.max() / yw[n0]) < -26.0       # Taylor −30 dB design


@pytest.mark.parametrize("factor, resolved", [(1.6, True), (0.6, False)])
def test_two_target_resolution(rng, factor, resolved):
    p = _params(pulses_per_cpi=2)
    lam = p.wavelength_m
    dR = np.round(factor * p.range_resolution_m / (lam / 2)) * (lam / 2)  # in phase
    R0 = 5000.0
    pos = np.array([[0.0, R0, 0.0], [0.0, R0 + dR, 0.0]])
    cube = synthesize(p, 0.0, pos, np.zeros((2, 3)), [1.0, 1.0], rng, channels=1,
                      noise=False, pointing=(0.0, 0.0))
    y = np.abs(PulseCompressor(p, "none").apply(cube.data[0, 0]))
    n1 = int(round(2 * R0 / C * p.sample_rate_hz))
    n2 = int(round(2 * (R0 + dR) / C * p.sample_rate_hz))
    seg = y[n1 - 2:n2 + 3]
    peaks = [i for i in range(1, seg.size - 1) if seg[i] > seg[i - 1] and seg[i] >= seg[i + 1]
             and seg[i] > 0.5 * seg.max()]
    dip = seg[2:-2].min() / seg.max()
    assert (len(peaks) == 2 and dip < 0.9) == resolved, (peaks, dip)


@pytest.mark.parametrize("order", [2, 3])
def test_mti_improvement_factor_gaussian_clutter(rng, order):
    """I = mean signal gain / clutter gain; for a Gaussian spectrum of std σ_f the pulse
    correlation is ρ(k) = exp(−2π² σ_f² k² T²): I₂ = 1/(1 − ρ₁), I₃ = 6/(6 − 8ρ₁ + 2ρ₂)
    (Richards §5.2.4; the taps have unit noise gain, so mean signal gain is 1)."""
    p = _params(pulses_per_cpi=256, prf_hz=20e3, sample_rate_hz=20.48e6, bandwidth_hz=5e6,
                pulse_width_s=5e-6)
    sv = 3.0
    c_in = c_out = 0.0
    for _ in range(8):                       # independent clutter realisations
        data = np.zeros((1, 256, p.samples_per_pri), np.complex64)
        add_clutter(data, p, Clutter(cnr_db=40, ref_range_m=3000, max_range_m=7000,
                                     sigma_v_mps=sv), rng)
        x = data[0, :, 200:900].astype(np.complex128)
        c_in += np.mean(np.abs(x) ** 2)
        c_out += np.mean(np.abs(mti(x, order, axis=0)) ** 2)
    sf, T = 2 * sv / p.wavelength_m, 1 / p.prf_hz
    rho = lambda k: np.exp(-2 * np.pi ** 2 * sf ** 2 * k ** 2 * T ** 2)
    theory = 1 / (1 - rho(1)) if order == 2 else 6 / (6 - 8 * rho(1) + 2 * rho(2))
    assert 10 * np.log10(c_in / c_out) == pytest.approx(10 * np.log10(theory), abs=0.3)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 8, 31, 32, 33, 64, 127, 128, 1000, 1024, 4097])
def test_tapers_equal_scipy_signal_windows(n):
    """Our Hamming and Taylor tapers (kept out of scipy.signal for its ~1 s import) against
    scipy.signal.windows as the oracle: the same values (bit for bit on the scipy this was
    written against; within 1e-14 on any)."""
    from scipy.signal import windows as sw

    from xband.detect.compress import hamming, taylor

    np.testing.assert_allclose(hamming(n), sw.hamming(n, sym=True), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(taylor(n), sw.taylor(n, nbar=4, sll=30, norm=True, sym=True),
                               rtol=1e-14, atol=1e-15)
    for nbar, sll in ((3, 25.0), (5, 35.0), (8, 45.0)):
        np.testing.assert_allclose(taylor(n, nbar, sll),
                                   sw.taylor(n, nbar=nbar, sll=sll, norm=True, sym=True),
                                   rtol=1e-14, atol=1e-15)

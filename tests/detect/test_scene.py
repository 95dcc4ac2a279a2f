"""Scene → I/Q synthesis against theory: thermal noise statistics, the radar-equation
amplitude after compression and integration, the Doppler sign convention of DESIGN.md,
the Swerling fluctuation laws and the monopulse ratio."""
import numpy as np
import pytest
from scipy import stats

from xband.detect.chain import DetectConfig, DetectionChain
from xband.radar import equation as E
from xband.radar.params import RadarParams
from xband.radar.scene import _fluctuation, complex_noise, synthesize

P = RadarParams(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
                pulse_width_s=8e-6, peak_power_w=20.0)


def test_noise_is_unit_complex_gaussian(rng):
    w = complex_noise((3, 1_000_000), rng).reshape(-1)
    assert np.mean(np.abs(w) ** 2) == pytest.approx(1.0, abs=0.005)
    assert abs(np.mean(w.real * w.imag)) < 0.003
    assert np.var(w.real) == pytest.approx(0.5, abs=0.003)
    T = np.log(1e4)                                   # P(|w|² > T) = e^−T = 1e−4
    k = np.sum(np.abs(w) ** 2 > T)
    lo, hi = stats.binom.interval(0.99, w.size, 1e-4)
    assert lo <= k <= hi


def _los(R, v):
    u = np.array([0.0, 1.0, 0.0])
    return R * u[None], v * u[None], (0.0, 0.0)


def test_radar_equation_amplitude_after_processing(rng):
    """Noise-free peak of the range-Doppler map / map noise = SNR × M (coherent gain),
    less the window losses, and the sign of Doppler: closing → positive frequency bin."""
    chain = DetectionChain(P, DetectConfig(range_window="none", doppler_window="none"))
    R = 3000.0
    pos, vel, pt = _los(R, -30.0)
    # Doppler exactly on a bin and delay on a sample: no straddle loss
    vbin = P.wavelength_m * P.prf_hz / (2 * chain.M)
    vel = vel / 30.0 * 3 * vbin
    R = np.round(R / chain.gate_m) * chain.gate_m        # on a (decimated) gate
    pos = pos / 3000.0 * R
    cube = synthesize(P, 0.0, pos, vel, [1.0], rng, pointing=pt, noise=False)
    X = chain.range_doppler(cube.data[0])
    pw = np.abs(X) ** 2
    d, r = np.unravel_index(np.argmax(pw), pw.shape)
    expected = E.params_snr(P, R, 1.0, integrated=True) * P.pulse_samples / (P.pulse_width_s * P.sample_rate_hz)
    assert 10 * np.log10(pw[d, r]) == pytest.approx(10 * np.log10(expected), abs=0.15)
    assert d - chain.M // 2 == 3                     # closing: +3 bins (positive Doppler)
    noise = np.mean(np.abs(chain.range_doppler(complex_noise((32, P.samples_per_pri),
                                                             rng))[:, chain.gate_lo:chain.gate_hi]) ** 2)
    assert noise == pytest.approx(1.0, abs=0.02)     # unit-energy filter and window


@pytest.mark.parametrize("sw, k", [(1, 1.0), (3, 2.0)])
def test_swerling_power_laws(rng, sw, k):
    xi = _fluctuation(sw, 200_000, 1, rng)[:, 0]
    pw = np.abs(xi) ** 2                               # χ² with 2k dof, unit mean
    assert stats.kstest(pw, stats.gamma(k, scale=1 / k).cdf).pvalue > 1e-3
    assert np.all(_fluctuation(0, 5, 1, rng) == 1)


def test_monopulse_ratio_is_linear(rng):
    p = P
    th = 0.25 * p.beamwidth_az_rad
    pos = 3000.0 * np.array([[np.sin(th), np.cos(th), 0.0]])
    cube = synthesize(p, 0.0, pos, np.zeros((1, 3)), [1.0], rng, pointing=(0.0, 0.0),
                      noise=False)
    n0 = int(np.ceil(2 * 3000.0 / 3e8 * p.sample_rate_hz)) + 5
    ratio = cube.data[1, 0, n0] / cube.data[0, 0, n0]
    assert ratio.real == pytest.approx(p.monopulse_slope * 0.25, rel=1e-3)
    assert abs(cube.data[2, 0, n0]) < 1e-6 * abs(cube.data[0, 0, n0])

"""Radar equation and detection theory against MATLAB documentation examples and the
published exact values (Richards, Fundamentals of Radar Signal Processing, §6.2)."""
import numpy as np
import pytest
from scipy import stats

from xband.errors import ConfigError
from xband.radar import equation as E
from xband.radar.params import C, RadarParams


def test_matlab_radareq_examples():
    # MATLAB radareqsnr / radareqpow / radareqrng documentation examples, printed digits
    assert round(float(E.snr_db(50e3, C / 1e9, 1e6, 0.2e-6)), 4) == 5.5868
    assert round(float(E.snr_db(100e3, C / 10e9, 1e6, 1e-6, rcs_m2=0.5, gain_db=40,
                                system_temp_k=300, losses_db=3)), 4) == 14.3778
    assert float(E.peak_power(50e3, 6, C / 1e9, 1e-6)) == pytest.approx(2.1996e5, abs=5)
    assert float(E.max_range(6, C / 10e9, 1e6, 10e-6)) == pytest.approx(4.1057e4, abs=0.5)
    assert float(E.max_range(6, C / 10e9, 1e6, 10e-6, gain_db=40, rcs_m2=0.1,
                             losses_db=3)) == pytest.approx(1.9426e5, abs=5)


def test_params_derived_figures():
    p = RadarParams()
    assert p.samples_per_pri == 4096
    assert p.range_resolution_m == pytest.approx(C / 2 / 10e6)
    assert p.unambiguous_range_m == pytest.approx(C / 2 / 10e3)
    assert p.unambiguous_velocity_mps == pytest.approx(C / 10e9 * 10e3 / 4)
    assert p.cpi_duration_s == pytest.approx(0.0128)
    assert p.blind_range_m == pytest.approx(C * 410 / 2 / 40.96e6)
    assert p.time_bandwidth == pytest.approx(100.0)
    assert RadarParams(waveform="barker13", pulse_width_s=13e-6).range_resolution_m == \
        pytest.approx(C * 1e-6 / 2)
    with pytest.raises(ConfigError, match="waveform"):
        RadarParams(waveform="nlfm")
    with pytest.raises(ConfigError, match="bandwidth_hz"):
        RadarParams(bandwidth_hz=50e6)


def test_exact_required_snr_published():
    # Pd 0.9, Pfa 1e-6, one pulse: 13.18 dB steady, 21.14 dB Swerling 1; Albersheim 13.11
    assert E.required_snr_db(0.9, 1e-6, 1, 0) == pytest.approx(13.18, abs=0.01)
    assert E.required_snr_db(0.9, 1e-6, 1, 1) == pytest.approx(21.14, abs=0.01)
    assert E.albersheim_snr_db(0.9, 1e-6) == pytest.approx(13.11, abs=0.01)
    # Swerling 1, one pulse, closed form Pd = Pfa^(1/(1+SNR))
    s = E.undb(21.14)
    assert float(E.pd_exact(s, 1e-6, 1, 1)) == pytest.approx(1e-6 ** (1 / (1 + s)), rel=1e-6)


@pytest.mark.parametrize("n", [1, 10])
@pytest.mark.parametrize("sw", [0, 1, 2, 3])
@pytest.mark.parametrize("pd", [0.5, 0.9])
def test_shnidman_within_half_db_of_exact(n, sw, pd):
    assert E.shnidman_snr_db(pd, 1e-6, n, sw) == pytest.approx(
        E.required_snr_db(pd, 1e-6, n, sw), abs=0.5)


@pytest.mark.parametrize("sw", [0, 1, 3, 4])
def test_monte_carlo_pd_at_shnidman_snr(rng, sw):
    """Square-law detector, 4 pulses noncoherently integrated, simulated: Pd at Shnidman's
    SNR ± 0.5 dB brackets the requested 0.9 (Swerling 4 has no exact formula here)."""
    n, pfa, pd, trials = 4, 1e-4, 0.9, 40_000
    T = E.threshold(pfa, n)
    res = []
    for off in (-0.5, 0.5):
        snr = E.undb(E.shnidman_snr_db(pd, pfa, n, sw) + off)
        if sw == 0:
            pw = np.ones((trials, 1))
        elif sw == 1:
            pw = rng.exponential(1.0, (trials, 1))
        elif sw == 3:
            pw = rng.gamma(2.0, 0.5, (trials, 1))
        else:
            pw = rng.gamma(2.0, 0.5, (trials, n))
        a = np.sqrt(snr * pw)
        w = (rng.standard_normal((trials, n)) + 1j * rng.standard_normal((trials, n))) / np.sqrt(2)
        stat = np.sum(np.abs(a + w) ** 2, axis=1)
        res.append(np.mean(stat > T))
    assert res[0] < pd < res[1]


def test_monte_carlo_single_pulse_pd_steady_and_sw1(rng):
    """Simulated single-pulse detection at the exact SNRs gives Pd 0.9 (99 % interval)."""
    trials, pfa = 200_000, 1e-6
    T = -np.log(pfa)
    for sw, snr_db in ((0, 13.18), (1, 21.14)):
        s = E.undb(snr_db)
        amp = np.sqrt(s * (rng.exponential(1.0, trials) if sw else np.ones(trials)))
        w = (rng.standard_normal(trials) + 1j * rng.standard_normal(trials)) / np.sqrt(2)
        k = np.sum(np.abs(amp + w) ** 2 > T)
        lo, hi = stats.binom.interval(0.99, trials, 0.9)
        assert lo <= k <= hi, (sw, k / trials)

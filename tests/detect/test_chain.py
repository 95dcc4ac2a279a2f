"""End to end: scene → I/Q → detection chain → Detections. A target at known range, range
rate and angles comes out within its stated covariance (NEES ~ χ² over 200 CPIs); targets
beyond the unambiguous range / velocity fold where theory says; a sum-only cube gives NaN
angles."""
import numpy as np
import pytest
from scipy import stats

from xband.detect.chain import DetectConfig, DetectionChain
from xband.errors import ConfigError, InputError
from xband.radar.measure import sph_of
from xband.radar.params import C, RadarParams
from xband.radar.scene import synthesize
from xband.radar.sensor import IQSensor
from xband.types import Cube, Detections

pytestmark = pytest.mark.reference_rerun

P_SMALL = dict(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
               pulse_width_s=8e-6, peak_power_w=2e3)


def _target(p, R, v, th_az=0.0, th_el=0.0):
    az0, el0 = 0.3, 0.05
    az, el = az0 + th_az, el0 + th_el
    u = np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])
    return R * u, v * u, (az0, el0)


def test_nees_consistent_over_200_cpis(rng):
    p = RadarParams(**{**P_SMALL, "peak_power_w": 20.0})       # SNR ≈ 30 dB integrated
    chain = DetectionChain(p, DetectConfig(range_window="taylor"))
    nees, n_cpi = [], 200
    for i in range(n_cpi):
        # fractional range gate and Doppler bin spread uniformly over the CPIs
        pos, vel, pt = _target(p, 4321.7 + 60 * rng.random(), -41.3 + 10 * rng.random(),
                               0.2 * p.beamwidth_az_rad, -0.15 * p.beamwidth_el_rad)
        t = 0.01 * i
        cube = synthesize(p, t, pos, vel, [1.0], rng, pointing=pt)
        det = chain.process(cube, pt).detections
        truth = sph_of(pos, vel)[0]
        j = np.argmin(np.abs(det.range - truth[0]))
        e = det.z[j] - truth
        e[1] = np.angle(np.exp(1j * e[1]))
        nees.append(e @ np.linalg.solve(det.R[j], e))
    nees = np.array(nees)
    lo, hi = stats.chi2.interval(0.99, 4 * n_cpi)
    assert lo <= nees.sum() <= hi, nees.mean()


def test_folding_where_theory_says(rng):
    p = RadarParams(**P_SMALL)
    chain = DetectionChain(p)
    Rua, vua = p.unambiguous_range_m, p.unambiguous_velocity_mps
    R, v = Rua + 2100.0, vua + 20.0              # beyond both
    pos, vel, pt = _target(p, R, v)
    p2 = RadarParams(**{**P_SMALL, "peak_power_w": 2e5})
    cube = synthesize(p2, 0.0, pos, vel, [1.0], rng, pointing=pt)
    det = DetectionChain(p2).process(cube, pt).detections
    j = np.argmax(det.snr)
    # folded range rate in (−v_ua, v_ua], folded range R − R_ua (range referred to t); the
    # LFM range–Doppler coupling is corrected with the folded rate, which leaves
    # c·τ·(v − v_folded)/(λ·B) (estimate module doc: 9.6 m here)
    couple = C * p.pulse_width_s / (p.wavelength_m * p.bandwidth_hz)
    assert det.range_rate[j] == pytest.approx(v - 2 * vua, abs=0.5)
    assert det.range[j] == pytest.approx(R - Rua + couple * 2 * vua, abs=2.0)
    assert couple * 2 * vua > 5.0
    # the unfolding window moves it back, range included
    det2 = DetectionChain(p2, DetectConfig(v_min_mps=0.0)).process(cube, pt).detections
    j2 = np.argmax(det2.snr)
    assert det2.range_rate[j2] == pytest.approx(v, abs=0.5)
    assert det2.range[j2] == pytest.approx(R - Rua, abs=2.0)
    assert chain.v_min == -vua


def test_sum_only_gives_nan_angles(rng):
    p = RadarParams(**P_SMALL)
    pos, vel, pt = _target(p, 3000.0, 10.0)
    cube = synthesize(p, 1.5, pos, vel, [1.0], rng, pointing=pt, channels=1)
    det = DetectionChain(p).process(cube, pt).detections
    assert len(det) >= 1 and np.all(np.isnan(det.az)) and np.all(np.isnan(det.el))
    assert np.all(det.t == 1.5)
    j = np.argmax(det.snr)
    assert np.isnan(det.R[j, 1, 1]) and det.R[j, 0, 0] > 0


def test_sensor_scan_and_errors(rng):
    s = IQSensor(RadarParams(**P_SMALL), DetectConfig(v_min_mps=-100.0))
    pos, vel, _ = _target(None, 3000.0, -60.0)
    det = s.scan(2.0, pos, vel, np.array([1.0]), rng)
    truth = sph_of(pos, vel)[0]
    j = np.argmax(det.snr)
    assert abs(det.range[j] - truth[0]) < 5 * np.sqrt(det.R[j, 0, 0])
    assert abs(det.az[j] - truth[1]) < 5 * np.sqrt(det.R[j, 1, 1])
    assert det.range_rate[j] == pytest.approx(-60.0, abs=1.0)
    with pytest.raises(InputError, match="pulses"):
        DetectionChain(RadarParams()).process(Cube(np.zeros((1, 4, 16), np.complex64), 0.0))
    with pytest.raises(ConfigError, match="mti_order"):
        DetectionChain(RadarParams(**P_SMALL), DetectConfig(mti_order=4))


def test_mti_chain_rejects_clutter_keeps_mover(rng):
    """With strong zero-Doppler ground clutter (CNR 40 dB at 3 km), the 3-pulse canceller
    chain still finds the moving target and declares no clutter near zero Doppler."""
    from xband.radar.scene import Clutter

    p = RadarParams(**{**P_SMALL, "peak_power_w": 20.0})
    pos, vel, pt = _target(p, 4000.0, -60.0)
    cl = Clutter(cnr_db=40.0, ref_range_m=3000.0, max_range_m=6000.0, sigma_v_mps=0.2)
    cube = synthesize(p, 0.0, pos, vel, [1.0], rng, pointing=pt, clutter=cl)
    det = DetectionChain(p, DetectConfig(mti_order=3)).process(cube, pt).detections
    truth = sph_of(pos, vel)[0]
    j = np.argmin(np.abs(det.range - truth[0]))
    assert abs(det.range[j] - truth[0]) < 5.0 and abs(det.range_rate[j] + 60.0) < 1.0
    slow = np.abs(det.range_rate) < 2 * p.velocity_resolution_mps
    assert slow.sum() == 0
    # without MTI the clutter ridge is declared
    det0 = DetectionChain(p, DetectConfig(mti_order=0)).process(cube, pt).detections
    assert (np.abs(det0.range_rate) < 2 * p.velocity_resolution_mps).sum() > 0


def test_monopulse_channel_order_and_trusted_record(rng):
    """The monopulse of one kernel call (Σ, Δaz, Δel read in one pass) picks the channels
    by name: a cube with its channels stored in another order gives the same detections
    bit for bit; and the record built without re-validation (Detections.trusted) is what
    the validating constructor would have made of the same arrays."""
    p = RadarParams(**P_SMALL)
    pos, vel, pt = _target(p, 3500.0, -30.0, 0.1 * p.beamwidth_az_rad,
                           -0.2 * p.beamwidth_el_rad)
    cube = synthesize(p, 0.5, pos, vel, [1.0], rng, pointing=pt)
    assert cube.channels == ("sum", "daz", "del")
    perm = Cube(cube.data[[2, 0, 1]], cube.t, ("del", "sum", "daz"))
    chain = DetectionChain(p)
    det = chain.process(cube, pt).detections
    det2 = chain.process(perm, pt).detections
    assert len(det) >= 1 and np.all(np.isfinite(det.az)) and det.equals(det2)
    fields = ("t", "range", "az", "el", "range_rate", "snr", "R")
    for f in fields:
        a = getattr(det, f)
        assert a.dtype == np.float64 and a.flags.c_contiguous and a.shape[0] == len(det)
    assert det.R.shape == (len(det), 4, 4)
    assert Detections(**{f: getattr(det, f) for f in fields}).equals(det)
    truth = sph_of(pos, vel)[0]
    j = np.argmax(det.snr)
    assert abs(det.az[j] - truth[1]) < 5 * np.sqrt(det.R[j, 1, 1])
    assert abs(det.el[j] - truth[2]) < 5 * np.sqrt(det.R[j, 2, 2])

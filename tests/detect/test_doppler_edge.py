"""A target whose Doppler sits at the ±PRF/2 edge of the fftshifted axis: its main lobe
crosses the threshold in the first *and* the last Doppler bins. Clustering treats Doppler
as circular, so it is one detection, with the folded range rate, on both backends."""
import numpy as np
import pytest

from xband.detect import estimate
from xband.detect.chain import DetectConfig, DetectionChain
from xband.radar.measure import sph_of
from xband.radar.params import RadarParams
from xband.radar.scene import synthesize

pytestmark = pytest.mark.reference_rerun

P_SMALL = dict(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
               pulse_width_s=8e-6, peak_power_w=200.0)


def _target(R, v):
    az, el = 0.3, 0.05
    u = np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])
    return R * u, v * u, (az, el)


@pytest.mark.parametrize("frac", [0.0, 0.3, -0.3])
def test_target_at_doppler_edge_is_one_detection(rng, backend, frac):
    p = RadarParams(**P_SMALL)
    chain = DetectionChain(p, DetectConfig(sidelobe_blanking=False))
    vua = p.unambiguous_velocity_mps
    v = -vua + frac * chain.vbin               # f = +PRF/2 (+ frac bins): the edge
    pos, vel, pt = _target(4000.0, v)
    cube = synthesize(p, 0.0, pos, vel, [1.0], rng, pointing=pt)
    out = chain.process(cube, pt)
    det = out.detections
    truth = sph_of(pos, vel)[0]
    near = np.abs(det.range - truth[0]) < 30.0
    assert near.sum() == 1, (det.range, det.range_rate)
    d = out.extra["d"][near][0]
    assert d in (0, 1, chain.M - 1)            # the peak bin is at the edge
    # folded into [−v_ua, v_ua): the truth modulo 2 v_ua
    want = -vua + np.mod(truth[3] + vua, 2 * vua)
    err = np.angle(np.exp(1j * np.pi * (det.range_rate[near][0] - want) / vua)) * vua / np.pi
    assert abs(err) < 0.1 * chain.vbin
    # range: the LFM coupling is corrected with the *folded* range rate, so a fold leaves
    # c·τ·(ṙ − ṙ̂)/(λB) (xband.detect.estimate)
    off = estimate.coupling_range_m(p, truth[3] - det.range_rate[near][0])
    assert abs(det.range[near][0] - truth[0] - off) < 1.0

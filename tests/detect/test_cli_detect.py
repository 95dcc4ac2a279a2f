"""``xband detect`` end to end: simulated CPIs and SigMF recordings (3 channels and sum
only) → the detections CSV of DESIGN.md, the JSON summary and the plot."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from xband.radar.measure import sph_of
from xband.radar.params import RadarParams
from xband.radar.scene import direction_of, synthesize

pytestmark = pytest.mark.reference_rerun
HEADER = ["t", "range", "azimuth", "elevation", "range_rate", "snr_db", "sigma_range",
          "sigma_azimuth", "sigma_elevation", "sigma_range_rate"]
P = RadarParams(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=32,
                pulse_width_s=8e-6, peak_power_w=200.0)


def xband(*args, cwd):
    r = subprocess.run([sys.executable, "-m", "xband.cli", *args], cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return r


def _rows(path):
    with open(path) as f:
        rd = csv.reader(f)
        return next(rd), [list(map(float, r)) for r in rd]


@pytest.mark.parametrize("channels", [3, 1])
def test_detect_sigmf(tmp_path, rng, channels):
    pytest.importorskip("sigmf")
    from xband.io.sigmf import write_sigmf

    pos, vel = np.array([[300.0, 4000.0, 200.0]]), np.array([[0.0, -50.0, 0.0]])
    pt = direction_of(pos[0])
    cubes = [synthesize(P, 2.0 + i * P.cpi_duration_s, pos + vel * i * P.cpi_duration_s, vel,
                        [1.0], rng, channels=channels, pointing=pt) for i in range(3)]
    meta = write_sigmf(tmp_path / "rec", cubes, P, pointing=pt)
    r = xband("detect", "--sigmf", str(meta), "-o", "d.csv", "--plot", "rd.png", "--json",
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["cpis"] == 3 and doc["detections"] >= 3
    head, rows = _rows(tmp_path / "d.csv")
    assert head == HEADER
    rows = np.array(rows)
    assert set(np.round(rows[:, 0], 9)) == {round(c.t, 9) for c in cubes}
    best = rows[np.argmax(rows[:, 5])]
    truth = sph_of(pos, vel)[0]
    assert best[1] == pytest.approx(truth[0], abs=3.0)
    assert best[4] == pytest.approx(truth[3], abs=1.0)
    if channels == 3:
        assert best[2] == pytest.approx(truth[1], abs=5 * best[7])
    else:
        assert np.isnan(rows[:, 2]).all() and np.isnan(rows[:, 3]).all()
    assert (tmp_path / "rd.png").stat().st_size > 1000


def test_detect_simulated_and_errors(tmp_path):
    r = xband("detect", "--small", "--cpis", "2", "-o", "d.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "detections" in r.stdout
    head, rows = _rows(tmp_path / "d.csv")
    assert head == HEADER and len(rows) >= 2
    r = xband("detect", "--pfa", "3", cwd=tmp_path)
    assert r.returncode == 2 and "--pfa" in r.stderr
    r = xband("detect", "--sigmf", "missing.sigmf-meta", cwd=tmp_path)
    assert r.returncode == 2 and "missing.sigmf-meta" in r.stderr

"""``xband track`` on a detections CSV made from a simulated two-target scene."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from xband.config import Radar
from xband.io.csvio import read_detections, write_detections
from xband.radar.measure import MeasurementModel

pytestmark = pytest.mark.reference_rerun


def _scene(rng, path, scans=80, nan_rows=True):
    sensor = MeasurementModel(Radar(p_detection=0.95, false_alarms_per_scan=3.0))
    p = np.array([[5000.0, 8000.0, 2000.0], [-3000.0, 9000.0, 1500.0]])
    v = np.array([[-100.0, -200.0, 0.0], [150.0, -180.0, 5.0]])
    out = []
    for k in range(scans):
        t = 0.05 * k
        out.append(sensor.measure(t, p + v * t, v, np.ones(2), rng))
    n = write_detections(path, out)
    if nan_rows:                                   # a sum-only row and a corrupt row
        with open(path, "a", newline="") as f:
            w = csv.writer(f)
            w.writerow([0.05 * scans, 9000.0, "nan", "nan", -10.0, 15.0, 5.0, "", "", 1.0])
            w.writerow([0.05 * scans, "inf", 0.1, 0.1, -10.0, 15.0, 5.0, 0.001, 0.001, 1.0])
    return out, n


def test_csv_round_trip(rng, tmp_path):
    f = tmp_path / "d.csv"
    scans, n = _scene(rng, f, 10, nan_rows=False)
    back = read_detections(f)
    assert len(back) == len(scans) and sum(len(b) for b in back) == n
    for a, b in zip(scans, back):
        np.testing.assert_array_equal(a.range, b.range)
        np.testing.assert_array_equal(a.az, b.az)
        np.testing.assert_allclose(a.R, b.R, rtol=1e-14)


def test_track_cli_json_and_csv(rng, tmp_path):
    f = tmp_path / "d.csv"
    _scene(rng, f)
    out = tmp_path / "tracks.csv"
    png = tmp_path / "tracks.png"
    p = subprocess.run([sys.executable, "-m", "xband.cli", "track", str(f), "-o", str(out),
                        "--json", "--plot", str(png)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["scans"] == 81 and doc["tracks_confirmed"] >= 2 and doc["seconds"] > 0
    assert doc["rejected_nonfinite"] == 1
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0])[:8] == ["t", "track_id", "x", "y", "z", "vx", "vy", "vz"]
    last_t = max(float(r["t"]) for r in rows)
    assert len({r["track_id"] for r in rows if float(r["t"]) == last_t}) == 2
    assert png.stat().st_size > 5000
    assert not (tmp_path / "tracks.csv.part").exists()


def test_track_cli_bad_csv(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("t,range,azimuth\n0,1,2\n")
    p = subprocess.run([sys.executable, "-m", "xband.cli", "track", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "missing column" in p.stderr and "Traceback" not in p.stderr
    f.write_text("t,range,azimuth,elevation,range_rate,snr_db\n0,abc,0,0,0,0\n")
    p = subprocess.run([sys.executable, "-m", "xband.cli", "track", str(f)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "bad.csv:2" in p.stderr and "'range'" in p.stderr

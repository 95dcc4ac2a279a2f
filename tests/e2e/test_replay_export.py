"""``xband replay`` reproduces a run's tracks bit for bit; ``xband export`` writes the CSVs."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from xband.io.recording import read_recording

pytestmark = pytest.mark.reference_rerun


def xb(*args, cwd):
    return subprocess.run([sys.executable, "-m", "xband.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    p = xb("demo", "--no-plot", "--record", str(d / "run.xrec"), "--json", cwd=d)
    assert p.returncode == 0, p.stderr
    return d / "run.xrec"


def test_replay_through_track_is_bit_identical(recording, tmp_path):
    p = xb("replay", str(recording), "--through", "track", "--json", cwd=tmp_path)
    doc = json.loads(p.stdout)
    assert doc["complete"] and doc["integrity"]["ok"]
    assert doc["through"]["identical"], doc["through"]["first_difference"]
    assert p.returncode == 0
    text = xb("replay", str(recording), "--through", "track", cwd=tmp_path).stdout
    assert "OK" in text


def test_replay_with_another_config_says_it_differs(recording, tmp_path):
    sc = tmp_path / "other.toml"
    sc.write_text('[tracker]\nfilter = "ekf"\n')
    p = xb("replay", str(recording), "--through", "track", "--scenario", str(sc), cwd=tmp_path)
    assert p.returncode == 0 and "DIFFERS" in p.stdout


def test_replay_of_a_torn_recording(recording, tmp_path):
    torn = tmp_path / "torn.xrec"
    data = recording.read_bytes()
    torn.write_bytes(data[: len(data) * 2 // 3 + 7])
    p = xb("replay", str(torn), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert not doc["complete"] and doc["integrity"]["torn_tail_bytes"] > 0
    assert doc["messages"]["detections"] > 10


def test_export_csv(recording, tmp_path):
    p = xb("export", str(recording), "--to", "csv", str(tmp_path / "out"), "--json",
           cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rec = read_recording(recording)
    assert doc["files"]["detections"]["rows"] == sum(len(d) for d in rec.detections())
    with open(tmp_path / "out" / "detections.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["t", "range", "azimuth", "elevation", "range_rate", "snr_db"]
    first = rec.detections()[0]
    got = sorted(float(r["range"]) for r in rows if float(r["t"]) == first.t[0])
    np.testing.assert_array_equal(got, np.sort(first.range))
    with open(tmp_path / "out" / "truth.csv") as f:
        hdr = next(csv.reader(f))
    assert hdr == ["t", "target_id", "x", "y", "z", "vx", "vy", "vz"]


def test_replay_through_guide_is_bit_identical(recording, tmp_path):
    p = xb("replay", str(recording), "--through", "guide", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    th = json.loads(p.stdout)["through"]
    assert th["stage"] == "guide" and th["commands"] > 100
    assert th["identical"], th["first_difference"]
    sc = tmp_path / "n3.toml"
    sc.write_text("[guidance]\nnav_ratio = 3.0\n")
    p = xb("replay", str(recording), "--through", "guide", "--scenario", str(sc), cwd=tmp_path)
    assert p.returncode == 0 and "DIFFERS" in p.stdout

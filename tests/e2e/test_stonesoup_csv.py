"""``xband export --to csv`` writes CSVs that Stone Soup's generic CSV readers (the
``compare`` extra) read back with the same values: detections, tracks and truth."""
import json
import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

from xband.io.recording import read_recording

generic = pytest.importorskip("stonesoup.reader.generic",
                              reason="Stone Soup comes with the compare extra")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("ss")
    sc = d / "short.toml"
    sc.write_text('[scenario]\nduration_s = 4.0\n[radar]\nmodel = "truth"\n'
                  'false_alarms_per_scan = 2.0\n')
    run = [sys.executable, "-m", "xband.cli"]
    p = subprocess.run(run + ["run", str(sc), "--no-plot", "--record", str(d / "r.xrec"),
                              "--out", str(d)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(run + ["export", str(d / "r.xrec"), "--to", "csv", str(d / "csv"),
                              "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return read_recording(d / "r.xrec"), d / "csv", json.loads(p.stdout)


def _epoch(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc).replace(tzinfo=None)


def test_detections_read_by_stonesoup(exported):
    rec, out, doc = exported
    reader = generic.CSVDetectionReader(
        out / "detections.csv", state_vector_fields=("range", "azimuth", "elevation",
                                                     "range_rate"),
        time_field="t", timestamp=True)
    got = [(ts, sorted(tuple(float(v) for v in d.state_vector.ravel()) for d in dets))
           for ts, dets in reader.detections_gen()]
    want = []
    for d in rec.detections():
        if len(d):
            rows = sorted(zip(d.range.tolist(), d.az.tolist(), d.el.tolist(),
                              d.range_rate.tolist()))
            want.append((d.t[0], rows))
    assert sum(len(r) for _, r in got) == doc["files"]["detections"]["rows"]
    assert len(got) == len(want)
    for (ts, rows), (t, wrows) in zip(got, want):
        assert abs((ts - _epoch(t)).total_seconds()) < 1e-6
        np.testing.assert_array_equal(np.array(rows), np.array(wrows))


def test_tracks_and_truth_read_by_stonesoup(exported):
    rec, out, _ = exported
    fields = ("x", "vx", "y", "vy", "z", "vz")
    var = {f"var_{f}": (i, i) for i, f in enumerate(fields)}
    tracks = generic.CSVTrackReader(out / "tracks.csv", state_vector_fields=fields,
                                    time_field="t", track_id_field="track_id", timestamp=True,
                                    default_covar=np.zeros((6, 6)), covar_fields_index=var)
    seen = {}
    for _, live in tracks.tracks_gen():
        for tr in live:
            seen[tr.id] = tr
    confirmed = {int(i) for trs in rec.tracks() for i in trs.id[trs.confirmed]}
    assert confirmed and {int(k) for k in seen} == confirmed
    last = {}
    for trs in rec.tracks():
        for k in np.flatnonzero(trs.confirmed):
            order = [0, 3, 1, 4, 2, 5]
            last[int(trs.id[k])] = (trs.t[k], trs.x[k, order], np.diag(trs.P[k])[order])
    for tid, tr in seen.items():
        t, x, var_diag = last[int(tid)]
        assert abs((tr.state.timestamp - _epoch(t)).total_seconds()) < 1e-6
        np.testing.assert_array_equal(np.asarray(tr.state.state_vector, float).ravel(), x)
        np.testing.assert_array_equal(np.diag(tr.state.covar), var_diag)

    truth = generic.CSVGroundTruthReader(out / "truth.csv", state_vector_fields=fields,
                                         time_field="t", path_id_field="target_id",
                                         timestamp=True)
    paths = {}
    for _, live in truth.groundtruth_paths_gen():
        for p in live:
            paths[p.id] = p
    assert paths and all(len(p) > 10 for p in paths.values())

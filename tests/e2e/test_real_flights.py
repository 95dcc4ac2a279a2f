"""The real-flights example: its provenance from the ``traffic`` package's samples, the
import of those samples, and ``xband run examples/real_flights.toml`` tracking them.

``traffic`` (a test dependency) is used for its sample data only, found through its
distribution metadata and read as ``traffic.data.samples`` reads it: importing ``traffic``
writes a config and a cache directory under $HOME, and its ``traffic.core`` does not import
under pandas ≥ 3 (xoolive/traffic#537). Nothing here touches the network.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from xband.cli import main as cli_main
from xband.config import load_scenario
from xband.io.adsb import FPM, FT, KT, Trajectory, read_truth

ROOT = Path(__file__).resolve().parents[2]
FLIGHTS_DIR = ROOT / "examples" / "flights"
SCENARIO = ROOT / "examples" / "real_flights.toml"
EXTRACT = FLIGHTS_DIR / "cdg_20211007.csv"
TRUTH = FLIGHTS_DIR / "cdg_20211007_truth.csv"
SITE = (49.0097, 2.5486, 119.0)                 # the radar site the truth CSV is made for
SITE_ARG = "49.0097,2.5486,119"


def _load_extractor():
    spec = importlib.util.spec_from_file_location("make_extract",
                                                  FLIGHTS_DIR / "make_extract.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def mk():
    return _load_extractor()


@pytest.fixture(scope="module")
def sample(mk):
    """The installed traffic's quickstart sample as a DataFrame. A missing or too old
    traffic fails (it is a declared test dependency), never skips."""
    try:
        version = metadata.version("traffic")
    except metadata.PackageNotFoundError:
        pytest.fail("the 'traffic' package (test extra, traffic>=2.12) is not installed: "
                    "pip install -e '.[test]'")
    major, minor = (int(x) for x in version.split(".")[:2])
    assert (major, minor) >= (2, 12), f"traffic {version} installed, the test extra needs >=2.12"
    path, v = mk.sample_path()
    assert v == version and path.is_file()
    return mk.load_sample(path)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_committed_extract_is_what_make_extract_makes(sample, mk, tmp_path):
    # (a) provenance: regenerate from the installed traffic sample and compare
    out = tmp_path / "extract.csv"
    assert mk.write(mk.extract(sample), out) == 3 * 71
    h1, rows1 = _read_csv(EXTRACT)
    h2, rows2 = _read_csv(out)
    assert h1 == h2 == ["time", "icao24", "lat", "lon", "velocity", "heading", "vertrate",
                        "baroaltitude", "geoaltitude", "callsign"]
    assert len(rows1) == len(rows2) == 3 * 71          # 3 aircraft, 140 s every 2 s
    for r1, r2 in zip(rows1, rows2):
        assert (r1[0], r1[1], r1[8], r1[9]) == (r2[0], r2[1], r2[8], r2[9])
        # numbers equal to the last printed decimal (6 for lat/lon: 0.1 m)
        for k, dec in zip(range(2, 8), (6, 6, 3, 3, 5, 3)):
            assert abs(float(r1[k]) - float(r2[k])) <= 1.01 * 10.0 ** -dec, (r1, r2, h1[k])
    assert {r[1] for r in rows1} == set(mk.FLIGHTS)
    assert EXTRACT.stat().st_size < 40_000

    # the committed truth CSV is `xband import adsb` of the committed extract at SITE
    truth = tmp_path / "truth.csv"
    assert cli_main(["import", "adsb", str(EXTRACT), "--site", SITE_ARG, "-o", str(truth)]) == 0
    a, b = read_truth(TRUTH), read_truth(truth)
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.target_id, b.target_id)
    np.testing.assert_allclose(a.pos, b.pos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.vel, b.vel, rtol=0, atol=1e-9)
    assert SITE_ARG in SCENARIO.read_text(encoding="utf-8")


def test_smoothing_changes_positions_little_and_removes_their_jitter(sample, mk):
    # what the extract changed: positions by < 100 m (the ADS-B position-time jitter,
    # ≲ 0.4 s at ≤ 220 m/s), nothing else; and the raw jitter it removes is real
    sm, raw = mk.extract(sample), mk.extract(sample, smooth=False)
    for col in ("time", "icao24", "velocity", "heading", "vertrate", "callsign"):
        assert (sm[col].to_numpy() == raw[col].to_numpy()).all(), col
    from xband.io.geodetic import Site
    site = Site(*SITE)
    p_s = np.stack(site.to_enu_deg(sm.lat, sm.lon, sm.baroaltitude), 1)
    p_r = np.stack(site.to_enu_deg(raw.lat, raw.lon, raw.baroaltitude), 1)
    d = np.linalg.norm(p_s - p_r, axis=1)
    assert d.max() < 100.0 and np.sqrt(np.mean(d ** 2)) < 40.0
    # mismatch between position differences over 2 s and the reported velocity
    for icao in mk.FLIGHTS:
        m = (sm.icao24 == icao).to_numpy()
        gs, chi = sm.velocity[m].to_numpy(), np.radians(sm.heading[m].to_numpy())
        vel = np.stack([gs * np.sin(chi), gs * np.cos(chi), sm.vertrate[m].to_numpy()], 1)

        def mismatch(p):
            fd = np.diff(p, axis=0) / 2.0
            return np.linalg.norm(fd - 0.5 * (vel[1:] + vel[:-1]), axis=1).max()
        assert mismatch(p_s[m]) < 10.0 < 20.0 < mismatch(p_r[m]), icao


def test_traffic_sample_import_matches_pymap3d(sample, mk, tmp_path, capsys):
    # (b) the sample's own rows, in traffic's column set, through `xband import adsb`
    try:
        import pymap3d
    except ImportError:
        pytest.fail("pymap3d (test extra) is not installed: pip install -e '.[test]'")
    import pandas as pd

    t0, t1 = pd.Timestamp(mk.START), pd.Timestamp(mk.STOP)
    ts = pd.to_datetime(sample["timestamp"])
    sub = sample[(sample.icao24.isin(list(mk.FLIGHTS)) & (ts >= t0) & (ts <= t1)).to_numpy()]
    path = tmp_path / "traffic.csv"
    sub.to_csv(path)                      # traffic's columns, ISO timestamps, pandas index
    assert {"timestamp", "latitude", "longitude", "altitude", "groundspeed", "track",
            "vertical_rate"} <= set(sub.columns)
    out = tmp_path / "truth.csv"
    assert cli_main(["import", "adsb", str(path), "--site", SITE_ARG, "-o", str(out),
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "traffic" and doc["altitude"] == "baro"
    assert doc["rows_written"] == doc["rows_read"] == len(sub) == 3 * 141
    assert doc["epoch_s"] == t0.tz_localize("UTC").timestamp()
    tab = read_truth(out)
    ids = doc["icao24"]
    lat0, lon0, h0 = SITE
    for icao, tid in ids.items():
        rows = sub[sub.icao24 == icao].sort_values("timestamp")
        mine = tab.of(tid)
        for k in (0, 45, 101, len(rows) - 1):
            r = rows.iloc[k]
            t = (pd.Timestamp(r.timestamp) - t0).total_seconds()
            j = int(np.flatnonzero(mine.t == t)[0])
            h = r.altitude * FT
            want = pymap3d.geodetic2enu(r.latitude, r.longitude, h, lat0, lon0, h0)
            np.testing.assert_allclose(mine.pos[j], want, rtol=0, atol=1e-3)
            # velocity: local ENU at the aircraft → ECEF → ENU at the site
            gs, chi, vz = r.groundspeed * KT, math.radians(r.track), r.vertical_rate * FPM
            uvw = pymap3d.enu2uvw(gs * math.sin(chi), gs * math.cos(chi), vz,
                                  r.latitude, r.longitude)
            vel = pymap3d.uvw2enu(*uvw, lat0, lon0)
            np.testing.assert_allclose(mine.vel[j], vel, rtol=0, atol=1e-6)


def _sigma_meas(r):
    """3-D position σ of one plot at range r for the scenario's σ_r = 5 m and σ_az = σ_el
    = 1 mrad (cross-range σ = r·σ_angle)."""
    return np.sqrt(5.0 ** 2 + 2 * (r * 1e-3) ** 2)


def test_run_tracks_every_real_aircraft(tmp_path, capsys):
    # (c) the example runs, and each of the three aircraft is held by a confirmed track
    sc = load_scenario(SCENARIO)
    assert sc.radar.sigma_range_m == 5.0 and sc.radar.sigma_azimuth_rad == 1e-3 \
        and sc.radar.sigma_elevation_rad == 1e-3 and len(sc.targets) == 3
    rec = tmp_path / "run.xrec"
    assert cli_main(["run", str(SCENARIO), "--json", "--record", str(rec), "--no-plot",
                     "--out", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "real_flights"
    assert doc["status"] in ("intercept", "timeout"), doc["status"]   # not target_lost
    assert cli_main(["export", str(rec), "--to", "csv", str(tmp_path / "csv")]) == 0
    capsys.readouterr()
    head, rows = _read_csv(tmp_path / "csv" / "tracks.csv")
    ix = {c: head.index(c) for c in ("t", "track_id", "x", "y", "z")}
    t = np.array([float(r[ix["t"]]) for r in rows])
    tid = np.array([int(r[ix["track_id"]]) for r in rows])
    pos = np.array([[float(r[ix[c]]) for c in "xyz"] for r in rows])
    scans = np.unique(t)
    assert scans[-1] > 30.0                              # tens of seconds of tracking
    truth = read_truth(TRUTH)
    trajs = [Trajectory.from_truth(truth, tg.trajectory_id) for tg in sc.targets]
    covered = {i: set() for i in range(len(trajs))}
    for k in np.unique(tid):
        m = tid == k
        err = np.stack([np.linalg.norm(pos[m] - tj.position_velocity(t[m])[0], axis=1)
                        for tj in trajs])                # (aircraft, rows of this track)
        i = int(np.argmin(np.median(err, axis=1)))       # the aircraft this track follows
        q = trajs[i].position_velocity(t[m])[0]
        ratio = err[i] / _sigma_meas(np.linalg.norm(q, axis=1))
        # a confirmed track fuses many plots: on average better than one plot (RMS ratio
        # < 1; 0.45 measured), and within 3σ of one plot at every scan despite the IMM's
        # lag in the turns (max 1.3 measured). A false or swapped track fails both.
        assert np.sqrt(np.mean(ratio ** 2)) < 1.0, (k, i, ratio.max())
        assert ratio.max() < 3.0, (k, i, ratio.max())
        covered[i] |= set(t[m].tolist())
    # every aircraft is held from confirmation (3 of 4 scans at P_d = 0.9) to the end
    late = set(scans[scans >= 1.0].tolist())
    for i, c in covered.items():
        assert len(late & c) >= 0.95 * len(late), f"aircraft {i}: {len(late & c)}/{len(late)}"

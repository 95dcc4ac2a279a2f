"""ADS-B state vectors → truth in the radar's ENU frame, and Trajectory interpolation."""
from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from xband.cli import main as cli_main
from xband.errors import InputError
from xband.io import adsb
from xband.io.adsb import FPM, FT, KT, Trajectory, read_adsb, read_truth
from xband.io.geodetic import (WGS84_A, WGS84_E2, Site, geodetic_to_enu_deg)

SITE = Site(52.0, 4.0, 10.0)
T0 = 1_700_000_000          # an OpenSky-style epoch second
OPENSKY = ",".join(adsb.OPENSKY_COLUMNS)


def _meridian_flight(lat_start, lon, h, gs, n, dt=1.0):
    """Due-north flight at constant ellipsoidal height along a meridian: latitudes at t=k dt
    by RK4 on dφ/dt = gs / (M(φ) + h), M the meridian radius of curvature."""
    def rate(phi):
        m = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * math.sin(phi) ** 2) ** 1.5
        return gs / (m + h)
    phi = math.radians(lat_start)
    out = []
    for _ in range(n):
        out.append(math.degrees(phi))
        sub = 10
        hh = dt / sub
        for _ in range(sub):
            k1 = rate(phi)
            k2 = rate(phi + hh / 2 * k1)
            k3 = rate(phi + hh / 2 * k2)
            k4 = rate(phi + hh * k3)
            phi += hh / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.array(out)


def _write_opensky(path, rows, header=OPENSKY):
    with open(path, "w", newline="") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join("" if v is None else (v if isinstance(v, str) else repr(float(v)))
                             for v in r) + "\n")
    return path


@pytest.fixture
def flight():
    """60 samples at 1 s: due north along the site's meridian, 230 m/s at 9000 m, from
    20 km south of the site to ~-6 km north."""
    lat = _meridian_flight(51.82, SITE.lon_deg, 9000.0, 230.0, 60)
    return {"t": T0 + np.arange(60.0), "lat": lat, "lon": np.full(60, SITE.lon_deg),
            "h": 9000.0, "gs": 230.0, "track": 0.0, "vz": 0.0}


def _opensky_rows(fl, icao="4ca123"):
    return [(int(t), icao, float(la), float(lo), fl["gs"], fl["track"], fl["vz"],
             fl["h"] - 150.0, fl["h"]) for t, la, lo in zip(fl["t"], fl["lat"], fl["lon"])]


def test_opensky_straight_and_level_matches_geodetic_truth(tmp_path, flight):
    path = _write_opensky(tmp_path / "sv.csv", _opensky_rows(flight))
    imp = read_adsb(path, SITE)
    assert imp.format == "opensky" and imp.altitude == "geo"
    assert len(imp) == 60 and imp.rows == 60 and not any(imp.skipped.values())
    assert imp.icao24 == {"4ca123": 1} and imp.epoch == T0
    np.testing.assert_array_equal(imp.t, np.arange(60.0))
    # positions: the geodetic → ENU chain of the module, and pymap3d when installed
    e, n, u = geodetic_to_enu_deg(flight["lat"], flight["lon"], 9000.0, 52.0, 4.0, 10.0)
    np.testing.assert_allclose(imp.pos, np.stack([e, n, u], 1), rtol=0, atol=1e-6)
    assert np.all(np.abs(imp.pos[:, 0]) < 1e-6)            # on the site's meridian
    assert imp.pos[0, 1] < -19000 and imp.pos[-1, 1] > -7000
    try:
        import pymap3d
    except ImportError:
        pass
    else:
        ref = np.stack(pymap3d.geodetic2enu(flight["lat"], flight["lon"], 9000.0,
                                            52.0, 4.0, 10.0), 1)
        np.testing.assert_allclose(imp.pos, ref, rtol=0, atol=1e-3)
    # velocities: local north at latitude φ is tilted by Δφ = φ − φ0 in the site frame
    dphi = np.radians(flight["lat"] - 52.0)
    want = np.stack([np.zeros(60), 230 * np.cos(dphi), -230 * np.sin(dphi)], 1)
    np.testing.assert_allclose(imp.vel, want, rtol=0, atol=1e-9)
    # and they agree with the positions' centred differences (the flight's real velocity)
    fd = (imp.pos[2:] - imp.pos[:-2]) / 2.0
    np.testing.assert_allclose(imp.vel[1:-1], fd, rtol=0, atol=2e-3)


def test_traffic_column_set_gives_the_same_truth(tmp_path, flight):
    os_path = _write_opensky(tmp_path / "sv.csv", _opensky_rows(flight))
    cols = ["timestamp", "icao24", "callsign", "latitude", "longitude", "altitude",
            "geoaltitude", "groundspeed", "track", "vertical_rate", "onground"]
    path = tmp_path / "traffic.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([""] + cols)                                 # pandas index column
        for k, (t, la, lo) in enumerate(zip(flight["t"], flight["lat"], flight["lon"])):
            ts = datetime.fromtimestamp(t, tz=timezone.utc).isoformat(sep=" ")
            w.writerow([k, ts, "4CA123", "KLM12", repr(float(la)), repr(float(lo)),
                        repr((9000.0 - 150) / FT), repr(9000.0 / FT), repr(230.0 / KT), "0.0",
                        "0.0", "False"])
    a, b = read_adsb(os_path, SITE), read_adsb(path, SITE)
    assert b.format == "traffic" and b.altitude == "geo" and b.icao24 == {"4ca123": 1}
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_allclose(a.pos, b.pos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.vel, b.vel, rtol=0, atol=1e-9)
    # barometric altitude asked for: 150 m lower
    c = read_adsb(path, SITE, altitude="baro")
    assert c.altitude == "baro"
    np.testing.assert_allclose(c.pos[:, 2], a.pos[:, 2] - 150, atol=1e-6)


def test_units_of_traffic_vertical_rate_and_groundspeed(tmp_path):
    path = tmp_path / "t.csv"
    with open(path, "w") as f:
        f.write(",".join(adsb.TRAFFIC_COLUMNS) + "\n")
        f.write("2024-05-01T12:00:00Z,abc123,52.0,4.0,10000,400,90,-1200\n")
    imp = read_adsb(path, SITE)
    assert imp.altitude == "baro"
    assert imp.epoch == datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()
    np.testing.assert_allclose(imp.vel[0], [400 * KT, 0, -1200 * FPM], atol=1e-9)
    np.testing.assert_allclose(imp.pos[0], [0, 0, 10000 * FT - 10], atol=1e-6)
    assert 400 * KT == pytest.approx(205.7777, abs=1e-4) and FPM == pytest.approx(0.00508)


def test_climbing_turning_flight_velocity_matches_position_differences(tmp_path):
    # an eastbound climbing flight 80 km east of the site: positions from a path defined in
    # the aircraft's own local frame; velocities must rotate into the site frame
    lat0, lon0 = 51.7, 5.2
    t = np.arange(0.0, 40.0, 0.5)
    e_loc, n_loc, up = 180.0 * t, 20.0 * t, 9000 + 12.0 * t
    from xband.io.geodetic import enu_to_geodetic_deg
    lat, lon, h = enu_to_geodetic_deg(e_loc, n_loc, up - 9000, lat0, lon0, 9000.0)
    # the local velocity at each sample from the geodetic path's derivative
    dt = 1e-3
    la2, lo2, h2 = enu_to_geodetic_deg(180 * (t + dt), 20 * (t + dt), 12 * (t + dt), lat0, lon0,
                                       9000.0)
    la1, lo1, h1 = enu_to_geodetic_deg(180 * (t - dt), 20 * (t - dt), 12 * (t - dt), lat0, lon0,
                                       9000.0)
    from xband.io.geodetic import geodetic_to_enu_deg as g2e
    rows = []
    for k in range(len(t)):
        ve, vn, vu = np.array(g2e(la2[k], lo2[k], h2[k], lat[k], lon[k], h[k])) / dt / 2 - \
            np.array(g2e(la1[k], lo1[k], h1[k], lat[k], lon[k], h[k])) / dt / 2
        gs = math.hypot(ve, vn)
        trk = math.degrees(math.atan2(ve, vn)) % 360
        rows.append((T0 + t[k], "aa0001", float(lat[k]), float(lon[k]), gs, trk, float(vu),
                     None, float(h[k])))
    path = _write_opensky(tmp_path / "sv.csv", rows)
    imp = read_adsb(path, SITE)
    assert imp.altitude == "geo" and len(imp) == len(t)
    assert imp.pos[0, 0] > 80e3
    fd = (imp.pos[2:] - imp.pos[:-2]) / (t[2:] - t[:-2])[:, None]
    np.testing.assert_allclose(imp.vel[1:-1], fd, rtol=0, atol=5e-3)
    # the site-frame velocity is not the local one: the frames differ by ~1° here
    assert abs(imp.vel[0, 2] - 12.0) > 1.0
    # Hermite interpolation of the table reproduces mid-sample positions to < 1 cm
    tr = imp.trajectory(1, max_gap_s=5)
    mid = 0.5 * (imp.t[:-1] + imp.t[1:])
    p, v = tr.position_velocity(mid)
    la_m, lo_m, h_m = enu_to_geodetic_deg(180 * mid, 20 * mid, 12 * mid, lat0, lon0, 9000.0)
    want = np.stack(g2e(la_m, lo_m, h_m, SITE.lat_deg, SITE.lon_deg, SITE.h_m), 1)
    np.testing.assert_allclose(p, want, rtol=0, atol=1e-2)


def test_bad_rows_are_counted_not_fatal(tmp_path, flight):
    rows = _opensky_rows(flight)[:10]
    rows[2] = (rows[2][0], "4ca123", None, None, 230.0, 0.0, 0.0, 8850.0, 9000.0)  # no pos
    rows[3] = rows[3][:2] + ("", "4.0") + rows[3][4:]                            # no lat
    rows[4] = rows[4][:7] + (None, None)                                          # no alt
    rows[5] = rows[5][:4] + (None,) + rows[5][5:]                                 # no gs
    rows[6] = rows[6][:2] + ("fifty-two",) + rows[6][3:]                          # bad cell
    rows[7] = rows[7][:2] + (95.0,) + rows[7][3:]                                 # lat > 90
    rows.append(rows[0])                                                          # duplicate
    path = _write_opensky(tmp_path / "sv.csv", rows)
    with open(path, "a") as f:
        f.write("1700000100,4ca123,52.1\n")                                       # short row
        f.write("\n")                                                             # blank
    imp = read_adsb(path, SITE)
    assert imp.rows == 12
    assert imp.skipped == {"bad_value": 3, "missing_position": 2, "missing_altitude": 1,
                           "missing_velocity": 1, "duplicate_time": 1}
    assert len(imp) == 12 - sum(imp.skipped.values()) == 4
    assert imp.first_bad == f"{path}:8: column 'lat': bad value 'fifty-two'"
    np.testing.assert_array_equal(imp.t, [0.0, 1.0, 8.0, 9.0])


def test_unknown_and_missing_columns_are_named(tmp_path, flight):
    rows = [r + (1.5,) for r in _opensky_rows(flight)[:3]]
    path = _write_opensky(tmp_path / "sv.csv", rows, header=OPENSKY + ",wind_speed")
    with pytest.raises(InputError, match=r"sv\.csv: unknown column\(s\) 'wind_speed' for "
                                         r"the opensky column set"):
        read_adsb(path, SITE)
    assert len(read_adsb(path, SITE, allow_unknown=True)) == 3
    # known extra OpenSky columns are fine
    p2 = tmp_path / "sv2.csv"
    p2.write_text(OPENSKY + ",callsign,onground,squawk\n"
                  "1700000000,4ca123,52,4,200,90,0,1000,1050,KLM1  ,False,7000\n")
    assert read_adsb(p2, SITE).altitude == "geo"
    # neither column set: the missing and the unknown are named
    p3 = tmp_path / "other.csv"
    p3.write_text("time,icao24,lat,lon,speed_kt,heading,vertrate,baroaltitude\n")
    with pytest.raises(InputError, match=r"other\.csv: not an ADS-B state-vector CSV: missing "
                                         r"column\(s\) velocity of the opensky column set.*"
                                         r"unknown column\(s\) 'speed_kt'"):
        read_adsb(p3, SITE)
    p4 = tmp_path / "empty.csv"
    p4.write_text("")
    with pytest.raises(InputError, match="empty.csv: empty file"):
        read_adsb(p4, SITE)
    p5 = tmp_path / "nogeo.csv"
    p5.write_text("time,icao24,lat,lon,velocity,heading,vertrate,baroaltitude\n")
    with pytest.raises(InputError, match="no column 'geoaltitude'"):
        read_adsb(p5, SITE, altitude="geo")
    with pytest.raises(InputError, match="missing.csv: cannot read"):
        read_adsb(tmp_path / "missing.csv", SITE)


def test_targets_numbered_by_icao24_and_epoch(tmp_path, flight):
    rows = _opensky_rows(flight, "b00002")[:5] + _opensky_rows(flight, "A00001")[3:8]
    path = _write_opensky(tmp_path / "sv.csv", rows)
    imp = read_adsb(path, SITE, epoch=T0 - 100)
    assert imp.icao24 == {"a00001": 1, "b00002": 2}
    assert imp.t[0] == 100.0
    assert list(zip(imp.t, imp.target_id))[:6] == [(100, 2), (101, 2), (102, 2), (103, 1),
                                                   (103, 2), (104, 1)]
    iso = datetime.fromtimestamp(T0, tz=timezone.utc).isoformat()
    assert read_adsb(path, SITE, epoch=iso).t[0] == 0.0
    with pytest.raises(InputError, match="epoch"):
        read_adsb(path, SITE, epoch="yesterday")


def test_truth_csv_round_trip_is_exact(tmp_path, flight):
    imp = read_adsb(_write_opensky(tmp_path / "sv.csv", _opensky_rows(flight)), SITE)
    out = tmp_path / "truth.csv"
    assert imp.write(out) == 60
    assert out.read_text().splitlines()[0] == "t,target_id,x,y,z,vx,vy,vz"
    tab = read_truth(out)
    np.testing.assert_array_equal(tab.t, imp.t)
    np.testing.assert_array_equal(tab.pos, imp.pos)
    np.testing.assert_array_equal(tab.vel, imp.vel)
    bad = tmp_path / "bad.csv"
    bad.write_text("t,target_id,x,y,z,vx,vy,vz\n0,1,0,0,0,0,0,0\n1,1,0,x,0,0,0,0\n")
    with pytest.raises(InputError, match=r"bad\.csv:3: column 'y': not a number"):
        read_truth(bad)


# ------------------------------------------------------------------ Trajectory
def _ca(t):
    """Constant-acceleration truth: Hermite through pos and vel is exact for it."""
    a = np.array([1.5, -2.0, 0.3])
    v0 = np.array([100.0, 50.0, -5.0])
    return np.outer(t, v0) + 0.5 * np.outer(t * t, a), v0 + np.outer(t, a)


def test_hermite_is_exact_for_constant_acceleration_and_hits_samples():
    t = np.array([0.0, 1.0, 3.0, 4.5, 10.0])
    p, v = _ca(t)
    tr = Trajectory(t, p, v, max_gap_s=6)
    tq = np.linspace(0, 10, 101)
    pq, vq = tr.position_velocity(tq)
    pw, vw = _ca(tq)
    np.testing.assert_allclose(pq, pw, atol=1e-9)
    np.testing.assert_allclose(vq, vw, atol=1e-9)
    ps, vs = tr.position_velocity(t)
    np.testing.assert_array_equal(ps, p)
    np.testing.assert_array_equal(vs, v)
    p1, v1 = tr.position_velocity(2.0)
    assert p1.shape == (3,) and v1.shape == (3,)
    lin = Trajectory(t, p, v, max_gap_s=6, method="linear")
    pl, vl = lin.position_velocity(2.0)
    np.testing.assert_allclose(pl, (p[1] + p[2]) / 2)
    np.testing.assert_allclose(vl, (v[1] + v[2]) / 2)


def test_no_interpolation_across_gaps():
    t = np.array([0.0, 5.0, 10.0, 40.0, 45.0])
    p, v = _ca(t)
    tr = Trajectory(t, p, v, max_gap_s=20.0, target_id=7)
    assert tr.gaps == [(10.0, 40.0)]
    assert tr.segments == [(0.0, 10.0), (40.0, 45.0)]
    tq = np.array([-1.0, 2.0, 10.0, 11.0, 39.9, 40.0, 44.0, 46.0])
    np.testing.assert_array_equal(tr.covers(tq), [0, 1, 1, 0, 0, 1, 1, 0])
    pq, vq = tr.position_velocity(tq)
    assert np.isnan(pq[[0, 3, 4, 7]]).all() and np.isnan(vq[[0, 3, 4, 7]]).all()
    assert np.isfinite(pq[[1, 2, 5, 6]]).all()
    np.testing.assert_array_equal(pq[2], p[2])               # the samples bounding the gap
    np.testing.assert_array_equal(pq[5], p[3])
    with pytest.raises(InputError, match=r"target 7: t=11\.0 s falls in a 30 s gap between "
                                         r"samples at t=10\.0 s and t=40\.0 s \(max_gap_s=20\)"):
        tr.position_velocity([2.0, 11.0], on_gap="raise")
    with pytest.raises(InputError, match=r"target 7: t=46\.0 s is outside the trajectory's "
                                         r"span \[0\.0, 45\.0\] s"):
        tr.position_velocity(46.0, on_gap="raise")
    assert "1 gaps" in repr(tr)


def test_trajectory_input_checks(tmp_path):
    p, v = _ca(np.arange(3.0))
    with pytest.raises(InputError, match=r"target 3: sample times must increase strictly; "
                                         r"t\[1\]=1\.0 s then t\[2\]=1\.0 s"):
        Trajectory([0.0, 1.0, 1.0], p, v, target_id=3)
    with pytest.raises(InputError, match="pos and vel must be"):
        Trajectory([0.0, 1.0], p, v)
    with pytest.raises(InputError, match="max_gap_s"):
        Trajectory([0.0, 1.0, 2.0], p, v, max_gap_s=0)
    one = Trajectory([5.0], p[:1], v[:1])
    assert one.covers([5.0, 5.1]).tolist() == [True, False]
    path = tmp_path / "truth.csv"
    adsb.write_truth(path, [0, 1, 2, 0], [1, 1, 1, 2], np.vstack([p, p[:1]]),
                     np.vstack([v, v[:1]]))
    tr = Trajectory.from_truth_csv(path, 1, max_gap_s=5)
    np.testing.assert_allclose(tr.position_velocity(1.5)[0], _ca(np.array([1.5]))[0][0])
    with pytest.raises(InputError, match=r"truth\.csv: target 9: not in the truth table "
                                         r"\(targets: \[1, 2\]\)"):
        Trajectory.from_truth_csv(path, 9)


# ------------------------------------------------------------------ CLI
def test_cli_import_adsb(tmp_path, flight, capsys):
    src = _write_opensky(tmp_path / "sv.csv", _opensky_rows(flight))
    out = tmp_path / "truth.csv"
    rc = cli_main(["import", "adsb", str(src), "--site", "52,4,10", "-o", str(out), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows_written"] == 60 and doc["icao24"] == {"4ca123": 1}
    assert doc["format"] == "opensky" and doc["skipped"] == {}
    np.testing.assert_allclose(read_truth(out).pos, read_adsb(src, SITE).pos, rtol=0, atol=0)
    rc = cli_main(["import", "adsb", str(src), "--site=-33.9,151.2,10", "-o", str(out)])
    assert rc == 0
    assert "1 ← 4ca123" in capsys.readouterr().out
    rc = cli_main(["import", "adsb", str(src), "--site", "52,4", "-o", str(out)])
    assert rc == 0
    capsys.readouterr()
    rc = cli_main(["import", "adsb", str(src), "--site", "52;4;10", "-o", str(out)])
    assert rc == 2
    assert "xband: error: --site: expected LAT,LON,ALT" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    rc = cli_main(["import", "adsb", str(bad), "--site", "52,4,10", "-o", str(out)])
    assert rc == 2
    assert "bad.csv: not an ADS-B state-vector CSV" in capsys.readouterr().err

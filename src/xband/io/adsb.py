"""Real-traffic trajectories: ADS-B state vectors → truth CSV in the radar's ENU frame.

Two input column sets are read (the format is recognised from the header):

* **OpenSky** state vectors (the historical database / CSV exports):
  ``time,icao24,lat,lon,velocity,heading,vertrate,baroaltitude,geoaltitude`` — time in s
  since the Unix epoch, lat/lon in degrees, velocity (ground speed) in m/s, heading (the
  track over ground) in degrees clockwise from true north, vertrate in m/s, altitudes in m.
  One of the two altitude columns may be absent.
* **traffic** (the ``traffic`` Python package's ``Flight``/``Traffic`` data, e.g. its
  samples written with ``to_csv``): ``timestamp,icao24,latitude,longitude,altitude,
  groundspeed,track,vertical_rate`` — timestamp as an ISO 8601 date-time (UTC when it has
  no offset) or s since the epoch, degrees, altitude (barometric) and ``geoaltitude`` in
  ft, groundspeed in kt, track in degrees, vertical_rate in ft/min.

Either format may carry the other columns those sources write (callsign, squawk, onground,
…, listed in ``OPENSKY_EXTRA``/``TRAFFIC_EXTRA``): they are ignored. Any other column is
refused with an :class:`~xband.errors.InputError` naming it (``allow_unknown=True`` ignores
it instead), because a column we do not know may mean units we do not know.

Conversion (docs/conventions.md; xband.io.geodetic): each sample's position
(lat, lon, h) → ECEF → ENU at the radar site. Its velocity is built in the aircraft's own
local ENU axes as (gs sin χ, gs cos χ, v_z) from ground speed gs, track χ and vertical
rate v_z, then rotated into the site's ENU axes (through ECEF), so it stays consistent
with the positions far from the site where the two frames' axes differ.

Altitude: ``altitude="geo"`` uses the geometric (GNSS) altitude, taken as the height
above the WGS-84 ellipsoid; ``"baro"`` the barometric (pressure) altitude, which is not a
geometric height (it can differ from it by hundreds of metres with the weather);
``"auto"`` (the default) uses geo when the file has any geo value and baro otherwise —
per file, never mixed, so a track never jumps between the two. The site height
(``--site LAT,LON,ALT``) must be ellipsoidal too (MSL + geoid undulation).

Rows are never silently dropped: rows without a position (lat/lon empty), without the
chosen altitude, without a velocity (ground speed, track or vertical rate empty), with an
unreadable or out-of-range value, or repeating a (icao24, time) already seen are skipped
and counted in :attr:`AdsbImport.skipped`; the first unreadable one is quoted with its
line and column in :attr:`AdsbImport.first_bad`.

Each ``icao24`` becomes one ``target_id`` (1, 2, … in sorted icao24 order), ``t`` is s
since ``epoch`` (default: the earliest kept sample), and :class:`Trajectory` interpolates
one target's table between samples, never across a gap longer than ``max_gap_s``.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import InputError
from .csvio import TRUTH_COLUMNS, table_reader
from .geodetic import Site, geodetic_to_enu, local_enu_vector_to_site

__all__ = ["OPENSKY_COLUMNS", "TRAFFIC_COLUMNS", "OPENSKY_EXTRA", "TRAFFIC_EXTRA",
           "AdsbImport", "read_adsb", "parse_epoch", "write_truth", "read_truth",
           "TruthTable", "Trajectory", "DEFAULT_MAX_GAP_S", "FT", "KT", "FPM"]

FT = 0.3048                 #: one foot in m
KT = 1852.0 / 3600.0        #: one knot in m/s
FPM = FT / 60.0             #: one ft/min in m/s

#: OpenSky state-vector columns (both altitude columns listed; one of them may be absent).
OPENSKY_COLUMNS = ("time", "icao24", "lat", "lon", "velocity", "heading", "vertrate",
                   "baroaltitude", "geoaltitude")
#: Other columns of OpenSky state vectors (historical database and REST API): ignored.
OPENSKY_EXTRA = ("callsign", "onground", "alert", "spi", "squawk", "lastposupdate",
                 "lastcontact", "hour", "serials", "origin_country", "time_position",
                 "last_contact", "position_source", "category", "sensors")
#: traffic's column set (altitude and groundspeed in ft and kt, vertical_rate in ft/min).
TRAFFIC_COLUMNS = ("timestamp", "icao24", "latitude", "longitude", "altitude", "groundspeed",
                   "track", "vertical_rate")
#: Other columns traffic's data frames carry (``geoaltitude`` in ft is used): ignored.
TRAFFIC_EXTRA = ("geoaltitude", "callsign", "onground", "alert", "spi", "squawk",
                 "last_position", "hour", "firstseen", "lastseen", "origin", "destination",
                 "day", "flight_id", "registration", "typecode", "track_unwrapped",
                 "heading", "heading_unwrapped", "IAS", "TAS", "CAS", "Mach", "mach",
                 "source", "selected_mcp", "selected_fms", "barometric_setting", "roll",
                 "track_rate", "nacp", "nic", "sil", "aircraft", "start", "stop", "time")
_INDEX_COLUMNS = ("", "Unnamed: 0", "index")   # a pandas index written by to_csv

#: Default longest interval between two samples that :class:`Trajectory` interpolates (s).
DEFAULT_MAX_GAP_S = 20.0

_MISSING = {"", "nan", "none", "null", "na", "n/a"}

# per format: canonical field → (column, scale to SI)
_FIELDS = {
    "opensky": {"time": ("time", 1.0), "icao24": ("icao24", None), "lat": ("lat", 1.0),
                "lon": ("lon", 1.0), "gs": ("velocity", 1.0), "track": ("heading", 1.0),
                "vz": ("vertrate", 1.0), "baro": ("baroaltitude", 1.0),
                "geo": ("geoaltitude", 1.0)},
    "traffic": {"time": ("timestamp", 1.0), "icao24": ("icao24", None),
                "lat": ("latitude", 1.0), "lon": ("longitude", 1.0), "gs": ("groundspeed", KT),
                "track": ("track", 1.0), "vz": ("vertical_rate", FPM),
                "baro": ("altitude", FT), "geo": ("geoaltitude", FT)},
}
_REQUIRED = {"opensky": OPENSKY_COLUMNS[:7], "traffic": TRAFFIC_COLUMNS[:4] + TRAFFIC_COLUMNS[5:]}
_KNOWN = {"opensky": set(OPENSKY_COLUMNS) | set(OPENSKY_EXTRA) | set(_INDEX_COLUMNS),
          "traffic": set(TRAFFIC_COLUMNS) | set(TRAFFIC_EXTRA) | set(_INDEX_COLUMNS)}


@dataclass
class AdsbImport:
    """ADS-B samples converted to the truth table of one radar site.

    Arrays sorted by (t, target_id): ``t`` (s since ``epoch``), ``target_id`` (int64),
    ``pos`` and ``vel`` (n, 3) in the site's ENU frame (m, m/s). ``icao24`` maps each
    aircraft address to its target_id; ``epoch`` is in s since the Unix epoch (UTC).
    ``rows`` counts the data rows read, ``skipped`` the rows dropped per reason.
    """

    path: Path
    format: str
    site: Site
    epoch: float
    altitude: str
    t: np.ndarray
    target_id: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    icao24: dict[str, int]
    rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    first_bad: str | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def table(self) -> "TruthTable":
        return TruthTable(self.t, self.target_id, self.pos, self.vel)

    def write(self, path) -> int:
        """Write the truth CSV (``t,target_id,x,y,z,vx,vy,vz``); returns the rows written."""
        return write_truth(path, self.t, self.target_id, self.pos, self.vel)

    def trajectory(self, target_id: int, max_gap_s: float = DEFAULT_MAX_GAP_S,
                   method: str = "hermite") -> "Trajectory":
        return Trajectory.from_truth(self.table, target_id, max_gap_s=max_gap_s,
                                     method=method)


def _parse_time(text: str) -> float:
    """Seconds since the Unix epoch from a number or an ISO 8601 date-time (UTC if naive)."""
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)      # ValueError if not a date-time
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_epoch(value) -> float:
    """An epoch given as s since the Unix epoch or an ISO 8601 date-time → float s."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        v = _parse_time(str(value))
    except ValueError:
        raise InputError(f"epoch: expected seconds since 1970-01-01 UTC or an ISO 8601 "
                         f"date-time, got {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"epoch: not finite: {value!r}")
    return v


def _detect_format(path: Path, cols: list[str], allow_unknown: bool) -> str:
    colset = set(cols)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(f"{path}: duplicate column(s) {', '.join(dup)}")
    best, best_missing = None, None
    for fmt in ("opensky", "traffic"):
        missing = [c for c in _REQUIRED[fmt] if c not in colset]
        alt = ("baroaltitude", "geoaltitude") if fmt == "opensky" else ("altitude",
                                                                           "geoaltitude")
        if not any(a in colset for a in alt):
            missing.append(" or ".join(alt))
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = fmt, missing
    unknown = [c for c in cols if c not in _KNOWN[best]]
    if best_missing:
        msg = (f"{path}: not an ADS-B state-vector CSV: missing column(s) "
               f"{', '.join(best_missing)} of the {best} column set "
               f"({','.join(OPENSKY_COLUMNS if best == 'opensky' else TRAFFIC_COLUMNS)})")
        if unknown:
            msg += f"; unknown column(s) {', '.join(repr(c) for c in unknown)}"
        raise InputError(msg)
    if unknown and not allow_unknown:
        raise InputError(f"{path}: unknown column(s) {', '.join(repr(c) for c in unknown)} "
                         f"for the {best} column set; expected "
                         f"{','.join(OPENSKY_COLUMNS if best == 'opensky' else TRAFFIC_COLUMNS)}"
                         f" and optionally other {best} columns "
                         f"(allow unknown columns to ignore them)")
    return best


def read_adsb(path, site: Site, *, epoch=None, altitude: str = "auto",
              allow_unknown: bool = False) -> AdsbImport:
    """Read an OpenSky or traffic ADS-B CSV and convert it to truth in ``site``'s ENU frame
    (module docstring). ``epoch``: time zero, s since the Unix epoch or an ISO date-time
    (default: the earliest kept sample). ``altitude``: ``"auto"``, ``"geo"`` or ``"baro"``.
    Raises InputError naming the file (and column) when the header is not one of the two
    column sets, or the chosen altitude column is absent."""
    try:
        return _read_adsb(path, site, epoch, altitude, allow_unknown)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (an ADS-B state-vector CSV was "
                         f"expected)") from None


def _read_adsb(path, site, epoch, altitude, allow_unknown) -> AdsbImport:
    path = Path(path)
    if altitude not in ("auto", "geo", "baro"):
        raise InputError(f"altitude: expected 'auto', 'geo' or 'baro', got {altitude!r}")
    if not isinstance(site, Site):
        raise InputError(f"site: expected an xband.io.geodetic.Site, got "
                         f"{type(site).__name__}")
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with f:
        rd = csv.reader(f)
        try:
            header = next(rd)
        except StopIteration:
            raise InputError(f"{path}: empty file (expected a header "
                             f"{','.join(OPENSKY_COLUMNS)})") from None
        except csv.Error as exc:
            raise InputError(f"{path}:1: not a CSV header: {exc}") from None
        cols = [c.strip() for c in header]
        fmt = _detect_format(path, cols, allow_unknown)
        spec = _FIELDS[fmt]
        index = {c: i for i, c in enumerate(cols)}
        have_geo = spec["geo"][0] in index
        have_baro = spec["baro"][0] in index
        if altitude == "geo" and not have_geo:
            raise InputError(f"{path}: altitude 'geo' asked for but there is no column "
                             f"{spec['geo'][0]!r}")
        if altitude == "baro" and not have_baro:
            raise InputError(f"{path}: altitude 'baro' asked for but there is no column "
                             f"{spec['baro'][0]!r}")
        numeric = ("lat", "lon", "gs", "track", "vz") + (("baro",) if have_baro else ()) + \
            (("geo",) if have_geo else ())
        skipped = {"bad_value": 0, "missing_position": 0, "missing_altitude": 0,
                   "missing_velocity": 0, "duplicate_time": 0}
        first_bad = None
        recs = []   # (time, icao, lat, lon, gs, track, vz, baro, geo)
        nrows = 0
        line = 1
        try:
            for line, row in enumerate(rd, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                nrows += 1
                if len(row) != len(cols):
                    skipped["bad_value"] += 1
                    first_bad = first_bad or (f"{path}:{line}: {len(row)} cells for "
                                              f"{len(cols)} columns")
                    continue
                bad = None
                vals = {}
                tcol = spec["time"][0]
                text = row[index[tcol]].strip()
                try:
                    vals["time"] = _parse_time(text) if text.lower() not in _MISSING \
                        else math.nan
                except ValueError:
                    bad = (tcol, text)
                icao = row[index["icao24"]].strip().lower()
                for k in numeric:
                    if bad:
                        break
                    col, scale = spec[k]
                    text = row[index[col]].strip()
                    if text.lower() in _MISSING:
                        vals[k] = math.nan
                        continue
                    try:
                        vals[k] = float(text) * scale
                    except ValueError:
                        bad = (col, text)
                        break
                    if not math.isfinite(vals[k]):
                        vals[k] = math.nan
                if bad is None:
                    if not math.isfinite(vals["time"]):
                        bad = (tcol, row[index[tcol]])
                    elif not icao:
                        bad = ("icao24", row[index["icao24"]])
                    elif not (math.isnan(vals["lat"]) or -90.0 <= vals["lat"] <= 90.0):
                        bad = (spec["lat"][0], row[index[spec["lat"][0]]])
                    elif not (math.isnan(vals["lon"]) or -180.0 <= vals["lon"] <= 360.0):
                        bad = (spec["lon"][0], row[index[spec["lon"][0]]])
                if bad is not None:
                    skipped["bad_value"] += 1
                    first_bad = first_bad or (f"{path}:{line}: column {bad[0]!r}: bad value "
                                              f"{bad[1]!r}")
                    continue
                recs.append((vals["time"], icao, vals["lat"], vals["lon"], vals["gs"],
                             vals["track"], vals["vz"], vals.get("baro", math.nan),
                             vals.get("geo", math.nan)))
        except csv.Error as exc:
            raise InputError(f"{path}:{line}: malformed CSV: {exc}") from None

    a = np.array([r[:1] + r[2:] for r in recs], dtype=np.float64).reshape(-1, 8)
    icaos = np.array([r[1] for r in recs], dtype=object)
    tt, lat, lon, gs, trk, vz, baro, geo = a.T
    has_pos = np.isfinite(lat) & np.isfinite(lon)
    skipped["missing_position"] = int(np.count_nonzero(~has_pos))
    if altitude == "auto":
        altitude = "geo" if have_geo and np.isfinite(geo[has_pos]).any() else "baro"
    h = geo if altitude == "geo" else baro
    has_alt = np.isfinite(h)
    skipped["missing_altitude"] = int(np.count_nonzero(has_pos & ~has_alt))
    has_vel = np.isfinite(gs) & np.isfinite(trk) & np.isfinite(vz)
    skipped["missing_velocity"] = int(np.count_nonzero(has_pos & has_alt & ~has_vel))
    keep = has_pos & has_alt & has_vel
    tt, lat, lon, gs, trk, vz, h, icaos = (v[keep] for v in
                                           (tt, lat, lon, gs, trk, vz, h, icaos))
    # one sample per (icao24, time): the first in file order
    order = np.lexsort((np.arange(len(tt)), tt, icaos.astype(str))) if len(tt) else \
        np.zeros(0, int)
    tt, lat, lon, gs, trk, vz, h, icaos = (v[order] for v in
                                           (tt, lat, lon, gs, trk, vz, h, icaos))
    dup = np.zeros(len(tt), bool)
    if len(tt):
        dup[1:] = (icaos[1:] == icaos[:-1]) & (tt[1:] == tt[:-1])
    skipped["duplicate_time"] = int(np.count_nonzero(dup))
    tt, lat, lon, gs, trk, vz, h, icaos = (v[~dup] for v in
                                           (tt, lat, lon, gs, trk, vz, h, icaos))

    names = sorted(set(icaos.tolist()))
    ids = {name: i + 1 for i, name in enumerate(names)}
    tid = np.array([ids[s] for s in icaos], dtype=np.int64)
    ep = (float(tt.min()) if len(tt) else 0.0) if epoch is None else parse_epoch(epoch)

    latr, lonr = np.radians(lat), np.radians(lon)
    e, n, u = geodetic_to_enu(latr, lonr, h, site.lat, site.lon, site.h_m)
    chi = np.radians(trk)
    ve, vn, vu = local_enu_vector_to_site(gs * np.sin(chi), gs * np.cos(chi), vz, latr, lonr,
                                          site.lat, site.lon)
    t = tt - ep
    final = np.lexsort((tid, t))
    pos = np.stack([e, n, u], axis=1).reshape(-1, 3)[final]
    vel = np.stack([ve, vn, vu], axis=1).reshape(-1, 3)[final]
    return AdsbImport(path=path, format=fmt, site=site, epoch=ep, altitude=altitude,
                      t=np.ascontiguousarray(t[final]), target_id=tid[final],
                      pos=np.ascontiguousarray(pos), vel=np.ascontiguousarray(vel),
                      icao24=ids, rows=nrows, skipped=skipped, first_bad=first_bad)


# ------------------------------------------------------------------ truth CSV
@dataclass
class TruthTable:
    """Rows of a truth CSV: ``t`` (s), ``target_id`` (int64), ``pos``/``vel`` (n, 3) ENU."""

    t: np.ndarray
    target_id: np.ndarray
    pos: np.ndarray
    vel: np.ndarray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def ids(self) -> list[int]:
        return sorted(int(i) for i in np.unique(self.target_id))

    def of(self, target_id: int) -> "TruthTable":
        """The rows of one target, sorted by time (stable)."""
        m = self.target_id == target_id
        o = np.argsort(self.t[m], kind="stable")
        return TruthTable(self.t[m][o], self.target_id[m][o], self.pos[m][o], self.vel[m][o])


def write_truth(path, t, target_id, pos, vel) -> int:
    """Write a truth CSV ``t,target_id,x,y,z,vx,vy,vz`` (floats as repr, so they read back
    bit-exact) via ``PATH.part`` renamed at the end; returns the rows written."""
    path = Path(path)
    t = np.asarray(t, np.float64)
    tid = np.asarray(target_id, np.int64)
    pos = np.asarray(pos, np.float64).reshape(-1, 3)
    vel = np.asarray(vel, np.float64).reshape(-1, 3)
    if not (len(t) == len(tid) == len(pos) == len(vel)):
        raise InputError(f"{path}: truth columns have different lengths "
                         f"(t {len(t)}, target_id {len(tid)}, pos {len(pos)}, vel {len(vel)})")
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(TRUTH_COLUMNS)
            for i in range(len(t)):
                w.writerow([repr(float(t[i])), int(tid[i]),
                            *(repr(float(v)) for v in pos[i]),
                            *(repr(float(v)) for v in vel[i])])
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror}") from None
    tmp.replace(path)
    return len(t)


def read_truth(path) -> TruthTable:
    """Read a truth CSV (``t,target_id,x,y,z,vx,vy,vz``; extra columns ignored); an
    InputError names the file, line and column of a bad cell."""
    path = Path(path)
    with table_reader(path, TRUTH_COLUMNS) as (rd, cols):
        t, tid, pv = [], [], []
        for line, r in enumerate(rd, start=2):
            vals = []
            for c in ("t", "x", "y", "z", "vx", "vy", "vz"):
                text = (r.get(c) or "").strip()
                try:
                    v = float(text)
                except ValueError:
                    raise InputError(f"{path}:{line}: column {c!r}: not a number: "
                                     f"{text!r}") from None
                if not math.isfinite(v):
                    raise InputError(f"{path}:{line}: column {c!r}: not finite: {text!r}")
                vals.append(v)
            text = (r.get("target_id") or "").strip()
            try:
                tid.append(int(text))
            except ValueError:
                raise InputError(f"{path}:{line}: column 'target_id': not an integer: "
                                 f"{text!r}") from None
            t.append(vals[0])
            pv.append(vals[1:])
    pv = np.array(pv, np.float64).reshape(-1, 6)
    return TruthTable(np.array(t, np.float64), np.array(tid, np.int64),
                      np.ascontiguousarray(pv[:, :3]), np.ascontiguousarray(pv[:, 3:]))


# ------------------------------------------------------------------ interpolation
class Trajectory:
    """One target's truth samples, interpolated in time, never across gaps.

    ``t`` (k,) strictly increasing s; ``pos``, ``vel`` (k, 3) ENU m and m/s.
    ``method="hermite"`` (default): on each interval the cubic Hermite polynomial through
    both samples' positions *and* velocities — C¹, exact for constant velocity and
    constant acceleration, and its derivative is the velocity returned.
    ``method="linear"``: positions and velocities each interpolated linearly (the velocity
    is then not the derivative of the position; use it for noisy velocities).

    An interval longer than ``max_gap_s`` is a **gap**: times strictly inside it, and times
    before the first or after the last sample, are not covered. :meth:`position_velocity`
    returns NaN there (``on_gap="nan"``) or raises InputError naming the gap
    (``on_gap="raise"``). Sample times themselves are always covered.
    """

    def __init__(self, t, pos, vel, *, max_gap_s: float = DEFAULT_MAX_GAP_S,
                 method: str = "hermite", target_id: int | None = None):
        self.name = "trajectory" if target_id is None else f"target {target_id}"
        self.target_id = target_id
        t = np.asarray(t, np.float64).reshape(-1)
        pos = np.asarray(pos, np.float64)
        vel = np.asarray(vel, np.float64)
        if pos.shape != (len(t), 3) or vel.shape != (len(t), 3):
            raise InputError(f"{self.name}: pos and vel must be ({len(t)}, 3) for {len(t)} "
                             f"times, got {pos.shape} and {vel.shape}")
        if len(t) == 0:
            raise InputError(f"{self.name}: no samples")
        for name, a in (("t", t), ("pos", pos), ("vel", vel)):
            if not np.isfinite(a).all():
                raise InputError(f"{self.name}: {name} has non-finite values")
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = int(bad[0])
            raise InputError(f"{self.name}: sample times must increase strictly; "
                             f"t[{i}]={float(t[i])!r} s then t[{i + 1}]={float(t[i + 1])!r} s")
        if not (isinstance(max_gap_s, (int, float)) and max_gap_s > 0):
            raise InputError(f"max_gap_s: expected a positive number of seconds, got "
                             f"{max_gap_s!r}")
        if method not in ("hermite", "linear"):
            raise InputError(f"method: expected 'hermite' or 'linear', got {method!r}")
        self.t, self.pos, self.vel = t, np.ascontiguousarray(pos), np.ascontiguousarray(vel)
        self.max_gap_s = float(max_gap_s)
        self.method = method
        self._ok = np.diff(t) <= self.max_gap_s      # interval i → i+1 interpolable

    @classmethod
    def from_truth(cls, table: TruthTable, target_id: int, **kw) -> "Trajectory":
        sub = table.of(target_id)
        if len(sub) == 0:
            raise InputError(f"target {target_id}: not in the truth table (targets: "
                             f"{table.ids()})")
        return cls(sub.t, sub.pos, sub.vel, target_id=target_id, **kw)

    @classmethod
    def from_truth_csv(cls, path, target_id: int, **kw) -> "Trajectory":
        try:
            return cls.from_truth(read_truth(path), target_id, **kw)
        except InputError as exc:
            msg = str(exc)
            raise InputError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None

    @property
    def t0(self) -> float:
        return float(self.t[0])

    @property
    def t1(self) -> float:
        return float(self.t[-1])

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """The (start, end) sample times of every interval longer than ``max_gap_s``."""
        return [(float(self.t[i]), float(self.t[i + 1])) for i in np.flatnonzero(~self._ok)]

    @property
    def segments(self) -> list[tuple[float, float]]:
        """The covered time spans (start, end), between gaps."""
        edges = np.flatnonzero(~self._ok)
        starts = [0] + [int(i) + 1 for i in edges]
        ends = [int(i) for i in edges] + [len(self.t) - 1]
        return [(float(self.t[a]), float(self.t[b])) for a, b in zip(starts, ends)]

    def _locate(self, tq: np.ndarray):
        k = len(self.t)
        i = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, max(k - 2, 0))
        at_knot = (tq == self.t[i]) | ((tq == self.t[np.minimum(i + 1, k - 1)]))
        inside = (tq >= self.t[0]) & (tq <= self.t[-1])
        ok = inside & (at_knot | (self._ok[i] if k > 1 else False))
        return i, ok, inside

    def covers(self, t) -> np.ndarray:
        """Boolean (same shape as ``t``): where :meth:`position_velocity` gives values."""
        tq = np.asarray(t, np.float64)
        return self._locate(tq.reshape(-1))[1].reshape(tq.shape)

    def position_velocity(self, t, on_gap: str = "nan"):
        """Position and velocity at time(s) ``t`` (s): arrays of shape ``t.shape + (3,)``.
        Uncovered times give NaN rows (``on_gap="nan"``) or an InputError naming the gap
        or the span (``on_gap="raise"``)."""
        if on_gap not in ("nan", "raise"):
            raise InputError(f"on_gap: expected 'nan' or 'raise', got {on_gap!r}")
        tq = np.asarray(t, np.float64)
        shape = tq.shape
        tq = tq.reshape(-1)
        k = len(self.t)
        i, ok, inside = self._locate(tq)
        if on_gap == "raise" and not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            tj = tq[j]
            if not inside[j]:
                raise InputError(f"{self.name}: t={float(tj)!r} s is outside the trajectory's span "
                                 f"[{self.t0!r}, {self.t1!r}] s")
            a, b = float(self.t[i[j]]), float(self.t[i[j] + 1])
            raise InputError(f"{self.name}: t={float(tj)!r} s falls in a {b - a:g} s gap between "
                             f"samples at t={a!r} s and t={b!r} s (max_gap_s="
                             f"{self.max_gap_s:g}); no interpolation across gaps")
        pos = np.full((tq.size, 3), np.nan)
        vel = np.full((tq.size, 3), np.nan)
        if k == 1:
            pos[ok], vel[ok] = self.pos[0], self.vel[0]
            return pos.reshape(shape + (3,)), vel.reshape(shape + (3,))
        ii = i[ok]
        t0, t1 = self.t[ii], self.t[ii + 1]
        h = (t1 - t0)[:, None]
        s = ((tq[ok] - t0) / (t1 - t0))[:, None]
        p0, p1, v0, v1 = self.pos[ii], self.pos[ii + 1], self.vel[ii], self.vel[ii + 1]
        if self.method == "linear":
            pos[ok] = p0 + s * (p1 - p0)
            vel[ok] = v0 + s * (v1 - v0)
        else:
            s2, s3 = s * s, s * s * s
            pos[ok] = ((2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * h * v0
                       + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * h * v1)
            vel[ok] = ((6 * s2 - 6 * s) * p0 / h + (3 * s2 - 4 * s + 1) * v0
                       + (-6 * s2 + 6 * s) * p1 / h + (3 * s2 - 2 * s) * v1)
        # exactly at a sample: the sample itself (no rounding from the polynomial)
        exact = np.flatnonzero(ok)
        at0 = tq[exact] == self.t[i[exact]]
        at1 = tq[exact] == self.t[i[exact] + 1]
        pos[exact[at0]], vel[exact[at0]] = self.pos[i[exact[at0]]], self.vel[i[exact[at0]]]
        pos[exact[at1]] = self.pos[i[exact[at1]] + 1]
        vel[exact[at1]] = self.vel[i[exact[at1]] + 1]
        return pos.reshape(shape + (3,)), vel.reshape(shape + (3,))

    def __repr__(self) -> str:
        return (f"Trajectory({self.name}, {len(self.t)} samples, [{self.t0:g}, {self.t1:g}] s, "
                f"{len(self.gaps)} gaps > {self.max_gap_s:g} s, {self.method})")

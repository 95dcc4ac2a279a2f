"""EUROCONTROL ASTERIX interchange: detections ↔ CAT048 target reports, tracks → CAT062
system tracks, through the MIT-licensed ``libasterix`` package (module ``asterix``; the
optional ``asterix`` extra). docs/interchange.md holds the mapping tables; in short:

* An ASTERIX file here is raw data blocks (``CAT`` 1 byte, ``LEN`` 2 bytes big-endian
  including these 3, then records) concatenated, no other framing.
* Editions: CAT048 1.32 and CAT062 1.21 (:data:`CAT048_EDITION`, :data:`CAT062_EDITION`); the
  items used here have the same layout in every edition since CAT048 1.15 / CAT062 1.10.
* Time: ASTERIX carries the time of day (s since midnight UTC, LSB 1/128 s). A run's
  ``t`` maps to ``ToD = (epoch_tod + t) mod 86400`` with ``epoch_tod`` the time of day of the
  ``--epoch`` (default midnight, so ``ToD = t``); import inverts it and unwraps midnight
  (:func:`tod_to_t`).
* Azimuth: ASTERIX θ is clockwise from north in [0°, 360°), the same sense as ours
  (docs/conventions.md), so az = θ wrapped to (−π, π].
* Height: I048/110 (height measured by a 3D radar, LSB 25 ft) = ``site_h + range·sin(el)``
  (flat ENU tangent plane, as our frame is; no refraction or Earth curvature), and import
  inverts it: el = asin((h − site_h)/range).

Every lossy step is quantisation to the format's LSB (:data:`RESOLUTION`), plus the items a
value does not fit (counted in ``omitted``, never silently clipped).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError

NM = 1852.0                  # international nautical mile (m), exact
FT = 0.3048                  # international foot (m), exact
CAT048_EDITION = "1.32"
CAT062_EDITION = "1.21"
DEFAULT_SAC = 0              # System Area Code written by default (--sac)
DEFAULT_SIC = 1              # System Identification Code written by default (--sic)
DEFAULT_SERVICE_ID = 1       # I062/015 service identification (--service-id)
DAY_S = 86400.0
MAX_BLOCK = 65535            # the LEN field is 16 bits

#: LSB of each quantity carried (SI units): what a round trip preserves.
RESOLUTION = {
    "tod_s": 1.0 / 128.0,
    "rho_m": NM / 256.0,                       # I048/040 RHO, 1/256 NM
    "theta_rad": 2.0 * math.pi / 65536.0,      # I048/040 THETA, 360/2^16 deg
    "height_3d_m": 25.0 * FT,                  # I048/110 3DH, 25 ft
    "doppler_mps": 1.0,                        # I048/120 CAL, 1 m/s
    "amplitude_db": 1.0,                       # I048/130 PAM, 1 dB (carries snr_db)
    "xy_m": 0.5,                               # I062/100, 0.5 m
    "vxy_mps": 0.25,                           # I062/185, 0.25 m/s
    "axy_mps2": 0.25,                          # I062/210, 0.25 m/s²
    "latlon_deg": 180.0 / 2 ** 25,             # I062/105, 180/2^25 deg
    "alt_geo_m": 6.25 * FT,                    # I062/130, 6.25 ft
    "rocd_mps": 6.25 * FT / 60.0,              # I062/220, 6.25 ft/min
}

_INSTALL = "install the 'asterix' extra: pip install 'xband[asterix]'"


def require_asterix():
    """(asterix.base, CAT048 spec, CAT062 spec), or a ConfigError naming the extra."""
    try:
        import asterix.base as base
        import asterix.generated as gen
    except ImportError as exc:
        raise ConfigError(f"ASTERIX needs libasterix (module 'asterix'), which is not "
                          f"installed ({exc}); {_INSTALL}") from None
    return base, gen.Cat_048_1_32, gen.Cat_062_1_21


# ------------------------------------------------------------------ time of day
def parse_epoch(text) -> tuple[float, str]:
    """``--epoch`` → (time of day of the epoch in s since midnight UTC, normalised text).

    Accepts ``None``/``"midnight"`` (0), an ISO 8601 date-time (``2026-11-29T13:05:00Z``,
    ``…+01:00``; naive means UTC; the date itself is not carried by ASTERIX) or a time of
    day (``13:05:00.5``)."""
    if text is None or str(text).strip().lower() in ("", "midnight"):
        return 0.0, "midnight"
    s = str(text).strip()
    s2 = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    dt = None
    try:
        dt = datetime.fromisoformat(s2)
    except ValueError:
        try:
            tm = time.fromisoformat(s2)
            dt = datetime.combine(datetime(2000, 1, 1).date(), tm)
        except ValueError:
            raise ConfigError(f"--epoch: expected an ISO 8601 date-time (e.g. "
                              f"2026-11-29T13:05:00Z) or time of day (13:05:00), "
                              f"got {text!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    tod = (dt.hour * 3600 + dt.minute * 60 + dt.second + dt.microsecond * 1e-6)
    return float(tod), dt.isoformat() + "Z"


def t_to_tod_raw(t, epoch_tod: float = 0.0) -> np.ndarray:
    """Run time(s) t (s) → I048/140 / I062/070 raw counts (1/128 s since midnight UTC)."""
    tod = np.mod(epoch_tod + np.asarray(t, np.float64), DAY_S)
    return np.mod(np.round(tod * 128.0).astype(np.int64), int(DAY_S * 128))


def tod_to_t(tod_s, epoch_tod: float = 0.0) -> np.ndarray:
    """Times of day (s, in file order) → run time t (s): the first is
    ``(ToD₀ − epoch_tod) mod 86400`` and each next one follows its predecessor by the
    signed step in (−12 h, +12 h], so a file crossing midnight stays monotonic (gaps of
    12 h or more are not representable in ASTERIX)."""
    tod = np.asarray(tod_s, np.float64)
    if tod.size == 0:
        return tod.copy()
    step = np.mod(np.diff(tod) + DAY_S / 2, DAY_S) - DAY_S / 2
    t0 = math.fmod(tod[0] - epoch_tod, DAY_S) % DAY_S
    return t0 + np.concatenate([[0.0], np.cumsum(step)])


def _wrap_pi(a):
    """Angles (rad) → (−π, π]."""
    return np.pi - np.mod(np.pi - np.asarray(a, np.float64), 2 * np.pi)


# ------------------------------------------------------------------ options
@dataclass
class AsterixOptions:
    """What the exporter writes beyond the data: source identification, the epoch of run
    time t = 0, the radar site (ellipsoidal height used as the zero of heights; lat/lon for
    I062/105, which is written only when ``site`` is given) and the SIM bits."""

    sac: int = DEFAULT_SAC
    sic: int = DEFAULT_SIC
    service_id: int = DEFAULT_SERVICE_ID
    epoch_tod: float = 0.0
    site: object = None          # xband.io.geodetic.Site or None
    simulated: bool = True

    def __post_init__(self):
        for name in ("sac", "sic", "service_id"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not 0 <= v <= 255:
                raise ConfigError(f"--{name.replace('_', '-')}: expected an integer "
                                  f"0…255, got {v!r}")

    @property
    def site_h(self) -> float:
        return float(self.site.h_m) if self.site is not None else 0.0


@lru_cache(maxsize=8192)
def _item(cat: int, name: str, value):
    """A created top-level item (libasterix NonSpare) of CAT048/062, memoised: the items
    that repeat (SAC/SIC, descriptor, a scan's time, amplitudes, Doppler speeds) are built
    once. Compound values come as tuples of (subfield, value) pairs."""
    _, C48, C62 = require_asterix()
    spec = (C48 if cat == 48 else C62).cv_record.spec(name)
    if isinstance(value, tuple) and value and value[0] == "compound":
        value = dict(value[1:])
    return spec.create(value)


def _record(cat: int, items: dict):
    _, C48, C62 = require_asterix()
    spec = C48 if cat == 48 else C62
    return spec.cv_record.create({k: _item(cat, k, v) for k, v in items.items()})


def _raw_fits(x, lsb, bits, signed):
    """Round x/lsb to an integer raw value; None when it is not finite or does not fit."""
    if not np.isfinite(x):
        return None
    r = int(round(float(x) / lsb))
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return r if lo <= r <= hi else None


def _u(r, bits):
    """Signed raw integer → its two's complement unsigned field value."""
    return r & ((1 << bits) - 1)


class Blocks(list):
    """Data blocks (bytes), with ``records``: how many records they hold."""

    records: int = 0


def _blocks(spec, records, out: Blocks) -> None:
    """Pack records into data blocks of at most 65535 bytes, appended to ``out``."""
    out.records += len(records)
    chunk, size = [], 3
    for rec in records:
        n = len(rec.unparse().to_bytes())
        if chunk and size + n > MAX_BLOCK:
            out.append(spec.create(chunk).unparse().to_bytes())
            chunk, size = [], 3
        chunk.append(rec)
        size += n
    if chunk:
        out.append(spec.create(chunk).unparse().to_bytes())


# ------------------------------------------------------------------ CAT048 encode
def encode_cat048(dets, opts: AsterixOptions, omitted: Counter) -> Blocks:
    """One scan of Detections → CAT048 data blocks (one record per detection).

    A detection whose range or azimuth cannot be coded (NaN, or rho ≥ 256 NM) is not
    written (``omitted['cat048_no_position']``); an optional item whose value is NaN or
    out of its field's range is left out of that record (``omitted['I048/110']`` …)."""
    _, C48, _ = require_asterix()
    tod = t_to_tod_raw(dets.t, opts.epoch_tod)
    snr_db = 10.0 * np.log10(np.maximum(dets.snr, 1e-300))
    snr_db = np.where(np.isfinite(dets.snr) & (dets.snr > 0), snr_db, np.nan)
    recs = []
    for i in range(len(dets)):
        rng, az = float(dets.range[i]), float(dets.az[i])
        rho = _raw_fits(rng, RESOLUTION["rho_m"], 16, False)
        if rho is None or not np.isfinite(az):
            omitted["cat048_no_position"] += 1
            continue
        theta = int(round(math.degrees(az % (2 * math.pi)) / (360.0 / 65536))) % 65536
        items = {
            "010": (("SAC", opts.sac), ("SIC", opts.sic)),
            "140": int(tod[i]),
            # TYP=1 single PSR detection, SIM, RDP=0, SPI=0, RAB=0 (no extension)
            "020": ((1 << 4) | (int(opts.simulated) << 3),),
            "040": (("RHO", rho), ("THETA", theta)),
        }
        el = float(dets.el[i])
        h = opts.site_h + rng * math.sin(el) if np.isfinite(el) else math.nan
        h_raw = _raw_fits(h, RESOLUTION["height_3d_m"], 14, True)
        if h_raw is not None:
            items["110"] = (0, ("3DH", _u(h_raw, 14)))
        elif np.isfinite(el):
            omitted["I048/110"] += 1
        cal = _raw_fits(dets.range_rate[i], 1.0, 10, True)
        if cal is not None:
            items["120"] = ("compound", ("CAL", (0, 0, ("CAL", _u(cal, 10)))))
        elif np.isfinite(dets.range_rate[i]):
            omitted["I048/120"] += 1
        pam = _raw_fits(snr_db[i], 1.0, 8, True)
        if pam is not None:
            items["130"] = ("compound", ("PAM", _u(pam, 8)))
        elif np.isfinite(snr_db[i]):
            omitted["I048/130"] += 1
        recs.append(_record(48, items))
    out = Blocks()
    _blocks(C48, recs, out)
    return out


# ------------------------------------------------------------------ CAT062 encode
def encode_cat062(tracks, opts: AsterixOptions, omitted: Counter,
                  first: set | None = None, last: set | None = None) -> Blocks:
    """The confirmed tracks of one Tracks batch → CAT062 data blocks (one record each).

    ``first``/``last``: track ids whose first/last report this is (I062/080 TSB/TSE).
    Optional items that do not fit their field are left out (``omitted['I062/…']``)."""
    _, _, C62 = require_asterix()
    conf = np.flatnonzero(tracks.confirmed)
    tod = t_to_tod_raw(tracks.t, opts.epoch_tod)
    dim = tracks.x.shape[1]
    latlon = None
    if opts.site is not None and len(conf):
        lat, lon, _ = opts.site.from_enu_deg(tracks.x[conf, 0], tracks.x[conf, 1],
                                              tracks.x[conf, 2])
        latlon = (np.atleast_1d(lat), np.atleast_1d(lon))
    recs = []
    for k, i in enumerate(conf):
        x, P = tracks.x[i], tracks.P[i]
        tid = int(tracks.id[i])
        items = {"010": (("SAC", opts.sac), ("SIC", opts.sic)),
                 "015": opts.service_id, "070": int(tod[i])}
        if latlon is not None:
            la = _raw_fits(latlon[0][k], RESOLUTION["latlon_deg"], 32, True)
            lo = _raw_fits(((latlon[1][k] + 180.0) % 360.0) - 180.0,
                           RESOLUTION["latlon_deg"], 32, True)
            if la is not None and lo is not None:
                items["105"] = (("LAT", _u(la, 32)), ("LON", _u(lo, 32)))
        X, Y = (_raw_fits(x[j], 0.5, 24, True) for j in (0, 1))
        if X is None or Y is None:
            omitted["I062/100"] += 1
        else:
            items["100"] = (("X", _u(X, 24)), ("Y", _u(Y, 24)))
        VX, VY = (_raw_fits(x[j], 0.25, 16, True) for j in (3, 4))
        if VX is None or VY is None:
            omitted["I062/185"] += 1
        else:
            items["185"] = (("VX", _u(VX, 16)), ("VY", _u(VY, 16)))
        if dim >= 9:
            AX, AY = (_raw_fits(x[j], 0.25, 8, True) for j in (6, 7))
            if AX is None or AY is None:
                omitted["I062/210"] += 1
            else:
                items["210"] = (("AX", _u(AX, 8)), ("AY", _u(AY, 8)))
        items["040"] = tid & 0xFFFF
        # MON=1 monosensor, SPI=0, MRH=1 geometric altitude more reliable, SRC=2 3D radar,
        # CNF=0 confirmed; then SIM, TSE (last report), TSB (first report), rest 0.
        g1 = (1 << 6) | (0 << 5) | (1 << 4) | (2 << 1) | 0
        g2 = ((int(opts.simulated) << 6) | (int(last is not None and tid in last) << 5)
              | (int(first is not None and tid in first) << 4))
        items["080"] = (g1, g2)
        alt = _raw_fits(opts.site_h + x[2], RESOLUTION["alt_geo_m"], 16, True)
        if alt is None:
            omitted["I062/130"] += 1
        else:
            items["130"] = _u(alt, 16)
        rocd = _raw_fits(x[5], RESOLUTION["rocd_mps"], 16, True)
        if rocd is None:
            omitted["I062/220"] += 1
        else:
            items["220"] = _u(rocd, 16)
        acc = _accuracies(P, dim, omitted)
        if acc:
            items["500"] = ("compound", *acc.items())
        recs.append(_record(62, items))
    out = Blocks()
    _blocks(C62, recs, out)
    return out


def _accuracies(P, dim, omitted: Counter) -> dict:
    """I062/500 estimated accuracies (1-σ) from the covariance: APC σx, σy; COV
    sign(Pxy)·√|Pxy|; AGA σz; ATV σvx, σvy; AA σax, σay; ARC σvz. A subfield whose value
    exceeds its field is left out (counted), never clipped to a smaller accuracy."""
    out = {}

    def sd(j):
        return math.sqrt(max(float(P[j, j]), 0.0))

    ax = _raw_fits(sd(0), 0.5, 16, False)
    ay = _raw_fits(sd(1), 0.5, 16, False)
    if ax is not None and ay is not None:
        out["APC"] = (("X", ax), ("Y", ay))
    else:
        omitted["I062/500/APC"] += 1
    pxy = float(P[0, 1])
    cov = _raw_fits(math.copysign(math.sqrt(abs(pxy)), pxy), 0.5, 16, True)
    if cov is not None:
        out["COV"] = _u(cov, 16)
    else:
        omitted["I062/500/COV"] += 1
    aga = _raw_fits(sd(2), RESOLUTION["alt_geo_m"], 8, False)
    if aga is not None:
        out["AGA"] = aga
    else:
        omitted["I062/500/AGA"] += 1
    vx = _raw_fits(sd(3), 0.25, 8, False)
    vy = _raw_fits(sd(4), 0.25, 8, False)
    if vx is not None and vy is not None:
        out["ATV"] = (("X", vx), ("Y", vy))
    else:
        omitted["I062/500/ATV"] += 1
    if dim >= 9:
        aax = _raw_fits(sd(6), 0.25, 8, False)
        aay = _raw_fits(sd(7), 0.25, 8, False)
        if aax is not None and aay is not None:
            out["AA"] = (("X", aax), ("Y", aay))
        else:
            omitted["I062/500/AA"] += 1
    arc = _raw_fits(sd(5), RESOLUTION["rocd_mps"], 8, False)
    if arc is not None:
        out["ARC"] = arc
    else:
        omitted["I062/500/ARC"] += 1
    return out


# ------------------------------------------------------------------ export
def export_recording(rec, path, opts: AsterixOptions) -> dict:
    """Write a recording's detections (CAT048) and confirmed tracks (CAT062) as ASTERIX
    data blocks, in the recording's message order, to ``path`` (via ``PATH.part``,
    renamed). Returns counts: blocks/records per category, bytes, omitted items."""
    require_asterix()
    path = Path(path)
    omitted: Counter = Counter()
    tracks = rec.tracks()
    seen_first, last_idx = {}, {}
    for k, tr in enumerate(tracks):
        for tid in tr.id[tr.confirmed]:
            seen_first.setdefault(int(tid), k)
            last_idx[int(tid)] = k
    by_first = {}
    by_last = {}
    for tid, k in seen_first.items():
        by_first.setdefault(k, set()).add(tid)
    for tid, k in last_idx.items():
        by_last.setdefault(k, set()).add(tid)
    counts = {"cat048": {"blocks": 0, "records": 0}, "cat062": {"blocks": 0, "records": 0}}
    tmp = path.with_name(path.name + ".part")
    n_bytes = 0
    k_tr = 0
    try:
        f = tmp.open("wb")
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    try:
        with f:
            for m in rec.messages:
                if m.kind == "detections":
                    blocks = encode_cat048(m.record, opts, omitted)
                    cat = "cat048"
                elif m.kind == "tracks":
                    blocks = encode_cat062(m.record, opts, omitted, by_first.get(k_tr),
                                           by_last.get(k_tr))
                    k_tr += 1
                    cat = "cat062"
                else:
                    continue
                try:
                    for b in blocks:
                        f.write(b)
                        n_bytes += len(b)
                except OSError as e:          # a full disk, a vanished mount …
                    raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
                counts[cat]["records"] += blocks.records
                counts[cat]["blocks"] += len(blocks)
            try:
                f.flush()
            except OSError as e:
                raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    return {"path": str(path), "bytes": n_bytes, **counts,
            "omitted": dict(sorted(omitted.items())),
            "sac": opts.sac, "sic": opts.sic, "service_id": opts.service_id,
            "epoch_tod_s": opts.epoch_tod, "wgs84": opts.site is not None,
            "editions": {"cat048": CAT048_EDITION, "cat062": CAT062_EDITION}}


# ------------------------------------------------------------------ import
@dataclass
class AsterixRead:
    """What :func:`read_asterix` found. CAT048 plots as columns (SI, rad; NaN where an item
    is absent): ``tod`` (s of day), ``t`` (run time), ``range``, ``az``, ``el``,
    ``range_rate``, ``snr_db``, ``sac``/``sic``; CAT062 tracks as a dict of columns in
    ``tracks``; the damage report: ``blocks`` (by category), ``corrupt_blocks`` (valid
    framing, records that do not parse), ``unsupported`` (category → blocks),
    ``torn_tail_bytes`` (a truncated last block or an impossible length field, where the
    rest of the file cannot be framed), ``skipped_plots``/``skipped_tracks`` (reason →
    records not kept, e.g. ``other_source``), ``problems`` (the first few, each naming the byte
    offset)."""

    path: str
    plots: dict = field(default_factory=dict)
    tracks: dict = field(default_factory=dict)
    blocks: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    corrupt_blocks: int = 0
    corrupt_records_lost: int = 0
    unsupported: Counter = field(default_factory=Counter)
    torn_tail_bytes: int = 0
    skipped_plots: Counter = field(default_factory=Counter)
    skipped_tracks: Counter = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not (self.corrupt_blocks or self.torn_tail_bytes)

    def report(self) -> dict:
        return {"bytes": self.bytes, "blocks": dict(sorted(self.blocks.items())),
                "records": dict(sorted(self.records.items())),
                "corrupt_blocks": self.corrupt_blocks,
                "unsupported_categories": {str(k): v for k, v in
                                           sorted(self.unsupported.items())},
                "torn_tail_bytes": self.torn_tail_bytes,
                "skipped_plots": dict(sorted(self.skipped_plots.items())),
                "skipped_tracks": dict(sorted(self.skipped_tracks.items())),
                "problems": self.problems[:10], "ok": self.ok}


def _q(item, *names, unit):
    """The quantity at item/…/names in ``unit``, or NaN when any level is absent."""
    v = item
    for nm in names:
        if v is None:
            return math.nan
        v = v.variation.get_item(nm)
    return math.nan if v is None else float(v.variation.content.as_quantity(unit))


_PLOT_COLS = ("tod", "range", "az", "el", "range_rate", "snr_db", "sac", "sic", "sim")
_TRACK_COLS = ("tod", "track_id", "x", "y", "z", "vx", "vy", "vz", "ax", "ay", "lat", "lon",
               "sigma_x", "sigma_y", "sigma_z", "sigma_vx", "sigma_vy", "sigma_vz", "sac",
               "sic")


def _decode048(rec, site_h: float):
    i010 = rec.get_item("010")
    i020 = rec.get_item("020")
    i140 = rec.get_item("140")
    tod = float(i140.variation.content.as_quantity("s")) if i140 is not None else math.nan
    i040 = rec.get_item("040")
    if i040 is None:
        return None, "no I048/040 (polar position)"
    if not np.isfinite(tod):
        return None, "no I048/140 (time of day)"
    rng = _q(i040, "RHO", unit="NM") * NM
    az = float(_wrap_pi(math.radians(_q(i040, "THETA", unit="°"))))
    h = _q(rec.get_item("110"), "3DH", unit="ft") * FT
    el = (math.asin(min(1.0, max(-1.0, (h - site_h) / rng))) if np.isfinite(h) and rng > 0
          else math.nan)
    i120 = rec.get_item("120")
    rr = math.nan
    if i120 is not None:
        cal = i120.variation.get_item("CAL")
        if cal is not None:
            rr = float(cal.variation.get_item("CAL").variation.content.as_quantity("m/s"))
    snr_db = _q(rec.get_item("130"), "PAM", unit="dBm")
    sac = sic = -1
    if i010 is not None:
        sac = i010.variation.get_item("SAC").variation.content.as_uint()
        sic = i010.variation.get_item("SIC").variation.content.as_uint()
    sim = (i020.variation.get_item("SIM").variation.content.as_uint()
           if i020 is not None else 0)
    return (tod, rng, az, el, rr, snr_db, sac, sic, sim), None


def _decode062(rec, site_h: float):
    i070 = rec.get_item("070")
    tod = float(i070.variation.content.as_quantity("s")) if i070 is not None else math.nan
    i040 = rec.get_item("040")
    tid = i040.variation.content.as_uint() if i040 is not None else -1
    i100, i185, i210 = rec.get_item("100"), rec.get_item("185"), rec.get_item("210")
    x, y = _q(i100, "X", unit="m"), _q(i100, "Y", unit="m")
    vx, vy = _q(i185, "VX", unit="m/s"), _q(i185, "VY", unit="m/s")
    ax, ay = _q(i210, "AX", unit="m/s²"), _q(i210, "AY", unit="m/s²")
    i130 = rec.get_item("130")
    z = (float(i130.variation.content.as_quantity("ft")) * FT - site_h
         if i130 is not None else math.nan)
    i220 = rec.get_item("220")
    vz = (float(i220.variation.content.as_quantity("ft/min")) * FT / 60.0
          if i220 is not None else math.nan)
    i105 = rec.get_item("105")
    lat, lon = _q(i105, "LAT", unit="°"), _q(i105, "LON", unit="°")
    i500 = rec.get_item("500")
    sx, sy = _q(i500, "APC", "X", unit="m"), _q(i500, "APC", "Y", unit="m")
    sz = _q(i500, "AGA", unit="ft") * FT
    svx, svy = _q(i500, "ATV", "X", unit="m/s"), _q(i500, "ATV", "Y", unit="m/s")
    svz = _q(i500, "ARC", unit="ft/min") * FT / 60.0
    i010 = rec.get_item("010")
    sac = sic = -1
    if i010 is not None:
        sac = i010.variation.get_item("SAC").variation.content.as_uint()
        sic = i010.variation.get_item("SIC").variation.content.as_uint()
    return (tod, tid, x, y, z, vx, vy, vz, ax, ay, lat, lon, sx, sy, sz, svx, svy, svz,
            sac, sic)


def read_asterix(source, *, epoch_tod: float = 0.0, site_h: float = 0.0,
                 sac: int | None = None, sic: int | None = None) -> AsterixRead:
    """Read a file (path) or ``bytes`` of concatenated ASTERIX data blocks.

    CAT048 records become plots, CAT062 records tracks; other categories are counted in
    ``unsupported``. A block whose records do not parse is counted in ``corrupt_blocks``
    and skipped (the next block is still read); a length field that is impossible (< 3)
    or runs past the end of the data ends the framing there: the rest is
    ``torn_tail_bytes``. Nothing is fatal but an unreadable file. ``sac``/``sic``, when
    given, keep only the plots and tracks of that source (the others are counted in
    ``skipped_plots['other_source']`` and ``skipped_tracks['other_source']``). Times are
    mapped by :func:`tod_to_t`."""
    base, C48, C62 = require_asterix()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    else:
        name = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InputError(f"{source}: cannot read: {exc.strerror}") from None
    out = AsterixRead(path=name, bytes=len(data))
    plots, trk = [], []
    pos, n = 0, len(data)
    while pos < n:
        if n - pos < 3:
            out.torn_tail_bytes = n - pos
            out.problems.append(f"byte {pos}: {n - pos} byte(s) left, too short for a "
                                f"block header (truncated file)")
            break
        cat = data[pos]
        ln = int.from_bytes(data[pos + 1:pos + 3], "big")
        if ln < 3:
            out.torn_tail_bytes = n - pos
            out.problems.append(f"byte {pos}: CAT{cat:03d} block length {ln} < 3 (corrupt); "
                                f"the remaining {n - pos} bytes cannot be framed")
            break
        if pos + ln > n:
            out.torn_tail_bytes = n - pos
            out.problems.append(f"byte {pos}: CAT{cat:03d} block of {ln} bytes runs past the "
                                f"end of the data ({n - pos} left): truncated")
            break
        body = data[pos + 3:pos + ln]
        out.blocks[f"cat{cat:03d}"] += 1
        if cat in (48, 62):
            spec = C48 if cat == 48 else C62
            recs = spec.cv_uap.parse(base.Bits.from_bytes(body))
            if isinstance(recs, ValueError):
                out.corrupt_blocks += 1
                out.problems.append(f"byte {pos}: CAT{cat:03d} block of {ln} bytes: records "
                                    f"do not parse ({recs}); block skipped")
            else:
                out.records[f"cat{cat:03d}"] += len(recs)
                for r in recs:
                    if cat == 48:
                        row, why = _decode048(r, site_h)
                        if row is None:
                            out.skipped_plots[why] += 1
                        elif (sac is not None and row[6] != sac) or \
                                (sic is not None and row[7] != sic):
                            out.skipped_plots["other_source"] += 1
                        else:
                            plots.append(row)
                    else:
                        row = _decode062(r, site_h)
                        if (sac is None or row[-2] == sac) and (sic is None or row[-1] == sic):
                            trk.append(row)
                        else:
                            out.skipped_tracks["other_source"] += 1
        else:
            out.unsupported[cat] += 1
        pos += ln
    a = np.array(plots, np.float64).reshape(-1, len(_PLOT_COLS))
    out.plots = {c: np.ascontiguousarray(a[:, j]) for j, c in enumerate(_PLOT_COLS)}
    out.plots["t"] = tod_to_t(out.plots["tod"], epoch_tod)
    b = np.array(trk, np.float64).reshape(-1, len(_TRACK_COLS))
    out.tracks = {c: np.ascontiguousarray(b[:, j]) for j, c in enumerate(_TRACK_COLS)}
    out.tracks["t"] = tod_to_t(out.tracks["tod"], epoch_tod)
    return out


def write_detections_part(path, plots: dict) -> tuple[Path, int]:
    """Plots (from :func:`read_asterix`) → the detections CSV of DESIGN.md (no sigma
    columns: ASTERIX carries no per-plot accuracy), rows sorted by t (stable), written to
    ``PATH.part`` (parent directories created) and left there: returns (the ``.part``
    path, rows written); the caller renames it. On any failure the ``.part`` is removed;
    an unwritable path is an InputError naming it."""
    import csv

    from .csvio import DET_COLUMNS, _open_part

    path = Path(path)
    order = np.argsort(plots["t"], kind="stable")
    cols = [plots[k][order] for k in ("t", "range", "az", "el", "range_rate", "snr_db")]
    tmp, f = _open_part(path)
    try:
        with f:
            w = csv.writer(f)
            w.writerow(DET_COLUMNS)
            for row in zip(*cols):
                w.writerow([repr(float(v)) for v in row])
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, int(order.size)


def write_detections_csv(path, plots: dict) -> int:
    """:func:`write_detections_part`, then the rename to ``path``; returns the rows
    written."""
    path = Path(path)
    tmp, n = write_detections_part(path, plots)
    try:
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    return n

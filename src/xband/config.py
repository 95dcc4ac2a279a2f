"""Scenario files: TOML → validated, frozen dataclasses.

A scenario describes the radar, targets, interceptor, guidance, tracker, rates and seed of a
run (see examples/default.toml, which is the scenario ``xband demo`` runs). Every key is
checked: an unknown key, a wrong type or an out-of-range value raises ``ConfigError`` with
one line naming the file, the table and the key, e.g.::

    scenario.toml: [guidance] nav_ration: unknown key (expected one of: law, nav_ratio, on)

Units are SI (m, s, rad, m/s, m/s², Hz); names carry the unit as a suffix.

The optional ``[site]`` table places the radar on the Earth: ``lat_deg``, ``lon_deg``
(geodetic WGS-84 latitude and longitude, degrees; both required when the table is given) and
``h_m`` (height of the radar frame's origin above the WGS-84 **ellipsoid**, m — not above
mean sea level; default 0). The simulation itself stays in the flat local ENU frame of
docs/conventions.md; the site is what ``xband export --to asterix`` uses as its WGS-84
origin (I062/105, zero of heights) when no ``--site`` is given, and is kept in every run
recording with the rest of the scenario text. ``[[targets]] trajectory`` files stay truth
CSV in that ENU frame: convert ADS-B state vectors with ``xband import adsb --site`` (the
same LAT,LON,H as ``[site]``).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

VEC3 = "vec3"
STRLIST = "strlist"


def _f(default, lo=None, hi=None, *, lo_open=False, hi_open=False, kind=float, choices=None,
       doc=""):
    """A scenario field with its type, range and documentation."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open, "kind": kind,
            "choices": choices, "doc": doc}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ScenarioInfo:
    name: str = _f("default", kind=str,
                   doc="a name for summaries and the output files' stem: 1-100 printable "
                       "characters, no path separator, not starting with '.'")
    seed: int = _f(20261129, 0, 2**63 - 1, kind=int, doc="root seed of every random stream")
    duration_s: float = _f(30.0, 0.0, 3600.0, lo_open=True, doc="time limit of the run")


@dataclass(frozen=True)
class Rates:
    radar_hz: float = _f(20.0, 0.0, 10000.0, lo_open=True, doc="scan (CPI) rate")
    guidance_hz: float = _f(100.0, 0.0, 10000.0, lo_open=True, doc="guidance command rate")
    plant_hz: float = _f(1000.0, 0.0, 1e6, lo_open=True, doc="integration rate of the plant")


@dataclass(frozen=True)
class Radar:
    model: str = _f("iq", kind=str, choices=("iq", "truth"),
                    doc="iq: synthesise each CPI and run the detection chain; truth: "
                        "truth plus the sigma_* noise, p_detection and false alarms below")
    cpi: str = _f("demo", kind=str, choices=("demo", "small", "full"),
                  doc="iq CPI size: 3×32×1024, 3×64×2048 or 3×128×4096")
    velocity_gate: str = _f("slaved", kind=str, choices=("slaved", "fixed"),
                            doc="iq: range-rate window centred on the engaged target each "
                                "CPI, or fixed at v_min_mps")
    v_min_mps: float = _f(-300.0, -1e4, 1e4,
                          doc="iq, fixed gate: lower edge of the range-rate window (m/s)")
    swerling: int = _f(0, 0, 4, kind=int, doc="iq: target fluctuation model")
    sigma_range_m: float = _f(5.0, 0.0, 1e4, lo_open=True)
    sigma_azimuth_rad: float = _f(1e-3, 0.0, 1.0, lo_open=True)
    sigma_elevation_rad: float = _f(1e-3, 0.0, 1.0, lo_open=True)
    sigma_range_rate_mps: float = _f(1.0, 0.0, 1e3, lo_open=True)
    p_detection: float = _f(0.95, 0.0, 1.0, doc="probability a target is detected per scan")
    false_alarms_per_scan: float = _f(2.0, 0.0, 1e4, doc="mean Poisson count of clutter plots")
    max_range_m: float = _f(30000.0, 0.0, 1e7, lo_open=True, doc="instrumented range")
    snr_ref_db: float = _f(20.0, -50.0, 100.0,
                           doc="SNR of a 1 m² target at 10 km; scales as RCS/R⁴")


@dataclass(frozen=True)
class Target:
    position_m: list = _f([6000.0, 9000.0, 3000.0], kind=VEC3)
    velocity_mps: list = _f([-120.0, -230.0, 0.0], kind=VEC3)
    maneuver_accel_mps2: list = _f([0.0, 0.0, 0.0], kind=VEC3,
                                   doc="step: constant acceleration from maneuver_start_s "
                                       "on; weave: the amplitude vector A (required)")
    maneuver_start_s: float = _f(0.0, 0.0, 3600.0)
    maneuver: str = _f("step", kind=str, choices=("step", "weave"),
                       doc="step: a = maneuver_accel_mps2 from maneuver_start_s on; weave: "
                           "a = A·sin(2π(t − maneuver_start_s)/maneuver_period_s + "
                           "maneuver_phase_rad) from maneuver_start_s on")
    maneuver_period_s: float = _f(4.0, 0.0, 3600.0, lo_open=True, doc="weave period")
    maneuver_phase_rad: float = _f(0.0, -2 * math.pi, 2 * math.pi, doc="weave phase at its start")
    rcs_m2: float = _f(1.0, 0.0, 1e6, lo_open=True)
    trajectory: str = _f("", kind=str,
                         doc="truth CSV (t,target_id,x,y,z,vx,vy,vz; e.g. from `xband import "
                             "adsb`) the target follows instead of position/velocity/maneuver;"
                             " relative to the scenario file")
    trajectory_id: int = _f(0, 0, 2**62, kind=int,
                            doc="target_id in the trajectory file (0: its first id)")
    max_gap_s: float = _f(20.0, 0.0, 1e6, lo_open=True,
                          doc="no interpolation across trajectory gaps longer than this")


@dataclass(frozen=True)
class Interceptor:
    position_m: list = _f([0.0, 0.0, 0.0], kind=VEC3)
    speed_mps: float = _f(600.0, 0.0, 1e4, lo_open=True)
    heading_error_rad: float = _f(0.2, -math.pi / 2, math.pi / 2,
                                  doc="launch heading off the collision course, about the vertical")
    time_constant_s: float = _f(0.2, 0.0, 10.0, doc="flight-control lag time constant τ "
                                "(0: none)")
    lag_order: int = _f(1, 1, 8, kind=int, doc="order n of the binomial lag 1/(1 + sτ/n)^n "
                        "(1: first order; > 1 needs time_constant_s > 0)")
    gravity: bool = _f(False, kind=bool, doc="gravity (g = 9.80665 m/s², −z) on the "
                       "interceptor, compensated by the autopilot (+g added to the command)")
    accel_limit_mps2: float = _f(300.0, 0.0, 1e4, lo_open=True)
    target: int = _f(0, 0, 1000, kind=int, doc="index into [[targets]] of the one to engage")


@dataclass(frozen=True)
class Guidance:
    law: str = _f("tpn", kind=str, choices=("pp", "pn", "tpn", "apn", "ogl"),
                  doc="pure pursuit, pure PN, true PN, augmented PN, optimal (lag-compensating)")
    nav_ratio: float = _f(4.0, 0.0, 20.0, lo_open=True, doc="effective navigation ratio N′")
    on: str = _f("track", kind=str, choices=("truth", "noisy", "track"),
                 doc="what guidance sees: truth, truth plus radar noise, or the tracker")


@dataclass(frozen=True)
class Tracker:
    process_noise: float = _f(50.0, 0.0, 1e8, lo_open=True,
                              doc="q, PSD of the white-noise acceleration (m²/s³)")
    gate_probability: float = _f(0.9999, 0.5, 1.0, hi_open=True,
                                 doc="probability a true detection falls inside the gate "
                                     "(1 would be an unbounded gate)")
    confirm_m: int = _f(3, 1, 100, kind=int)
    confirm_n: int = _f(4, 1, 62, kind=int, doc="N of M-of-N confirmation (scans remembered)")
    delete_misses: int = _f(5, 1, 1000, kind=int, doc="consecutive misses that delete a track")
    init_speed_sigma_mps: float = _f(300.0, 0.0, 1e5, lo_open=True,
                                     doc="velocity σ of a new track (m/s)")
    delete_sigma_m: float = _f(2000.0, 0.0, 1e7, lo_open=True,
                               doc="delete a track whose position σ grows beyond this")
    filter: str = _f("imm", kind=str, choices=("imm", "ekf"),
                     doc="IMM over imm_models, or one constant-velocity EKF")
    association: str = _f("gnn", kind=str, choices=("gnn", "jpda"),
                          doc="global nearest neighbour or joint probabilistic (JPDA)")
    p_detection: float = _f(0.9, 0.0, 1.0, lo_open=True, doc="P_D the JPDA assumes")
    clutter_density: float = _f(1e-8, 0.0, 1e6, lo_open=True,
                                doc="JPDA clutter density λ per m·rad²·(m/s)")
    update: str = _f("ekf", kind=str, choices=("ekf", "ukf", "cmkf"),
                     doc="spherical measurement update: extended, unscented or "
                         "converted-measurement (track.converted)")
    imm_models: list = _f(["cv", "ca", "ct"], kind=STRLIST, choices=("cv", "ca", "ct", "singer"),
                          doc="motion models of the IMM")
    imm_stay_probability: float = _f(0.95, 0.0, 1.0, lo_open=True,
                                     doc="Π diagonal; the rest spread evenly")
    accel_noise: float = _f(100.0, 0.0, 1e10, lo_open=True,
                            doc="CA model: PSD of the white jerk (m²/s⁵)")
    turn_rate_noise: float = _f(1e-3, 0.0, 10.0, lo_open=True,
                                doc="CT model: PSD of the turn-rate random walk (rad²/s³)")
    singer_sigma_mps2: float = _f(30.0, 0.0, 1e4, lo_open=True)
    singer_tau_s: float = _f(5.0, 0.0, 1e4, lo_open=True)


@dataclass(frozen=True)
class SiteInfo:
    lat_deg: float = _f(math.nan, -90.0, 90.0,
                        doc="geodetic WGS-84 latitude of the radar (degrees; required)")
    lon_deg: float = _f(math.nan, -180.0, 360.0,
                        doc="geodetic WGS-84 longitude of the radar (degrees, east; required)")
    h_m: float = _f(0.0, -12000.0, 1.0e6,
                    doc="height of the radar above the WGS-84 ellipsoid (m; not above mean "
                        "sea level)")

    def to_site(self):
        """The :class:`xband.io.geodetic.Site` of this table."""
        from .io.geodetic import Site

        return Site(self.lat_deg, self.lon_deg, self.h_m)


#: Keys a ``[site]`` table must give (the others have defaults).
_SITE_REQUIRED = ("lat_deg", "lon_deg")

_SECTIONS = {
    "scenario": ScenarioInfo, "rates": Rates, "radar": Radar, "interceptor": Interceptor,
    "guidance": Guidance, "tracker": Tracker,
}


@dataclass(frozen=True)
class Scenario:
    """A whole run: every table of the TOML file, validated. ``source`` names the file."""

    scenario: ScenarioInfo = field(default_factory=ScenarioInfo)
    rates: Rates = field(default_factory=Rates)
    radar: Radar = field(default_factory=Radar)
    targets: tuple = (Target(),)
    interceptor: Interceptor = field(default_factory=Interceptor)
    guidance: Guidance = field(default_factory=Guidance)
    tracker: Tracker = field(default_factory=Tracker)
    site: SiteInfo | None = None      #: the optional [site] table (None: not given)
    source: str = "<default>"
    text: str = ""

    def to_dict(self) -> dict:
        out = {}
        for name in _SECTIONS:
            sec = getattr(self, name)
            out[name] = {f.name: getattr(sec, f.name) for f in fields(sec)}
        out["targets"] = [{f.name: getattr(t, f.name) for f in fields(t)} for t in self.targets]
        if self.site is not None:
            out["site"] = {f.name: getattr(self.site, f.name) for f in fields(self.site)}
        return out


def _check_value(src: str, where: str, f, value: Any, recorded: bool = False) -> Any:
    m = f.metadata
    kind, key = m["kind"], f"{src}: {where} {f.name}"
    if kind is VEC3:
        if (not isinstance(value, list) or len(value) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{key}: expected a list of 3 numbers, got {value!r}")
        value = [float(v) for v in value]
        if not all(math.isfinite(v) for v in value):
            raise ConfigError(f"{key}: every component must be finite, got {value!r}")
        return value
    if kind is STRLIST:
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{key}: expected a non-empty list of strings, got {value!r}")
        bad = [v for v in value if v not in m["choices"]]
        if bad or len(set(value)) != len(value):
            raise ConfigError(f"{key}: expected distinct names from {', '.join(m['choices'])},"
                              f" got {value!r}")
        return list(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be finite, got {value!r}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {type(value).__name__} "
                              f"{value!r}")
        return value
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {type(value).__name__} {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        if m["choices"] and value not in m["choices"]:
            raise ConfigError(f"{key}: expected one of {', '.join(m['choices'])}, got {value!r}")
        return value
    lo, hi = m["lo"], m["hi"]
    if lo is not None and (value < lo or (m["lo_open"] and value == lo)):
        rel = ">" if m["lo_open"] else ">="
        raise ConfigError(f"{key}: must be {rel} {lo}, got {value!r}")
    if hi is not None and (value > hi or (m["hi_open"] and value == hi and not recorded)):
        rel = "<" if m["hi_open"] else "<="
        raise ConfigError(f"{key}: must be {rel} {hi}, got {value!r}")
    return value


def _build(cls, table: Any, src: str, where: str, recorded: bool = False):
    if not isinstance(table, dict):
        raise ConfigError(f"{src}: {where} must be a table, got {type(table).__name__}")
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{src}: {where} {key}: unknown key (expected one of: {', '.join(known)})")
    kw = {}
    for name, f in known.items():
        if name in table:
            kw[name] = _check_value(src, where, f, table[name], recorded)
    return cls(**kw)


def _check_name(name: str, src: str) -> None:
    """The name is the stem of the PNG and recording files: keep it one plain file name."""
    why = None
    if not name or len(name) > 100 or len(name.encode("utf-8")) > 200:
        why = "must be 1 to 100 characters (at most 200 bytes in UTF-8)"
    elif not name.isprintable():
        why = "must be printable characters only"
    elif "/" in name or "\\" in name:
        why = "must not contain a path separator"
    elif name.startswith("."):
        why = "must not start with '.'"
    if why:
        raise ConfigError(f"{src}: [scenario] name: {why} (it names the output files), "
                          f"got {name[:40]!r}{'…' if len(name) > 40 else ''}")


def _cross_checks(sc: Scenario, src: str, recorded: bool = False) -> None:
    if not recorded:
        _check_name(sc.scenario.name, src)
    r = sc.rates
    for key in ("radar_hz", "guidance_hz"):
        ratio = r.plant_hz / getattr(r, key)
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ConfigError(
                f"{src}: [rates] {key}: plant_hz ({r.plant_hz}) must be an integer multiple "
                f"of it, got {getattr(r, key)}")
    t = sc.tracker
    if t.confirm_m > t.confirm_n:
        raise ConfigError(f"{src}: [tracker] confirm_m: must be <= confirm_n "
                          f"({t.confirm_n}), got {t.confirm_m}")
    ic = sc.interceptor
    if ic.lag_order > 1 and ic.time_constant_s == 0.0:
        raise ConfigError(f"{src}: [interceptor] lag_order: must be 1 when time_constant_s is "
                          f"0 (no lag), got {ic.lag_order}")
    for i, tg in enumerate(sc.targets):
        if tg.maneuver == "weave" and not any(tg.maneuver_accel_mps2):
            raise ConfigError(f"{src}: [[targets]] #{i} maneuver_accel_mps2: maneuver = "
                              f"\"weave\" needs a nonzero amplitude vector, got "
                              f"{tg.maneuver_accel_mps2!r}")
    if sc.interceptor.target >= len(sc.targets):
        raise ConfigError(f"{src}: [interceptor] target: index {sc.interceptor.target} but "
                          f"only {len(sc.targets)} [[targets]] defined")
    tg = sc.targets[sc.interceptor.target]
    if not recorded and not tg.trajectory and list(tg.position_m) == list(sc.interceptor.position_m):
        raise ConfigError(f"{src}: [interceptor] position_m: the interceptor starts on its "
                          f"target ([[targets]] #{sc.interceptor.target}), got "
                          f"{list(sc.interceptor.position_m)!r}")


def _resolve_trajectory(t: "Target", source: str) -> "Target":
    """A relative trajectory path is taken relative to the scenario file's folder."""
    from dataclasses import replace

    if not t.trajectory or Path(t.trajectory).is_absolute():
        return t
    base = Path(source).parent if Path(source).is_file() else Path.cwd()
    return replace(t, trajectory=str(base / t.trajectory))


def _build_site(table: Any, src: str) -> SiteInfo:
    site = _build(SiteInfo, table, src, "[site]")
    for key in _SITE_REQUIRED:
        if key not in table:
            raise ConfigError(f"{src}: [site] {key}: required when [site] is given "
                              f"(expected {', '.join(_SITE_REQUIRED)}, optionally h_m)")
    return site


def site_from_toml(text: str, source: str = "<string>"):
    """The :class:`xband.io.geodetic.Site` of scenario TOML ``text``'s ``[site]`` table,
    or None without one. Only that table is read and validated (so the scenario of an older
    recording still gives its site); errors name ``source``, ``[site]`` and the key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    if "site" not in doc:
        return None
    return _build_site(doc["site"], source).to_site()


def parse_scenario(text: str, source: str = "<string>", *, recorded: bool = False) -> Scenario:
    """Parse and validate scenario TOML ``text``; ``source`` names it in errors.

    ``recorded``: the text comes from a recording's header (``xband replay``), written by an
    earlier xband whose checks were looser: the checks added since for running a scenario
    (the name as a file stem, the interceptor not on its target, gate_probability < 1)
    are not applied, so that old recordings still replay."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    allowed = list(_SECTIONS) + ["targets", "site"]
    for key in doc:
        if key not in allowed:
            raise ConfigError(f"{source}: [{key}]: unknown table (expected one of: "
                              f"{', '.join(allowed)})")
    kw = {name: _build(cls, doc.get(name, {}), source, f"[{name}]", recorded)
          for name, cls in _SECTIONS.items()}
    targets = doc.get("targets", [{}])
    if not isinstance(targets, list) or not targets:
        raise ConfigError(f"{source}: [[targets]]: expected at least one [[targets]] table")
    kw["targets"] = tuple(_resolve_trajectory(_build(Target, t, source, f"[[targets]] #{i}",
                                                     recorded),
                                              source)
                          for i, t in enumerate(targets))
    if "site" in doc:
        kw["site"] = _build_site(doc["site"], source)
    sc = Scenario(**kw, source=source, text=text)
    _cross_checks(sc, source, recorded)
    return sc


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    return parse_scenario(text, str(p))


def default_scenario_text() -> str:
    return resources.files("xband").joinpath("data/default.toml").read_text(encoding="utf-8")


def default_scenario() -> Scenario:
    """The built-in default engagement (also shipped as examples/default.toml)."""
    return parse_scenario(default_scenario_text(), "<built-in default.toml>")


def describe_keys() -> dict:
    """Every table's keys with default, type, range, choices and documentation, as plain data
    (``xband scenario --describe --json``). ``targets`` is the array of tables ``[[targets]]``;
    ``site`` is optional, and its ``required`` keys must be given when it is."""
    out = {}
    for name, cls in list(_SECTIONS.items()) + [("targets", Target), ("site", SiteInfo)]:
        keys = {}
        for f in fields(cls):
            m = f.metadata
            default = f.default if f.default is not MISSING else f.default_factory()
            kind = m["kind"] if isinstance(m["kind"], str) else m["kind"].__name__
            d = {"type": {"vec3": "list of 3 floats", "strlist": "list of str"}.get(kind, kind),
                 "default": None if cls is SiteInfo and f.name in _SITE_REQUIRED else default,
                 "required": cls is SiteInfo and f.name in _SITE_REQUIRED}
            if m.get("choices"):
                d["choices"] = list(m["choices"])
            if m.get("lo") is not None:
                d["min"], d["min_exclusive"] = m["lo"], bool(m["lo_open"])
            if m.get("hi") is not None:
                d["max"], d["max_exclusive"] = m["hi"], bool(m.get("hi_open"))
            d["doc"] = m.get("doc", "")
            keys[f.name] = d
        out[name] = keys
    return out


def describe() -> str:
    """Every table and key with type, range and documentation (``xband scenario --describe``)."""
    lines = []
    for name, cls in list(_SECTIONS.items()) + [("[targets]", Target), ("site", SiteInfo)]:
        lines.append(f"[{name}]" + ("  (optional: the radar's WGS-84 position; "
                                    "lat_deg and lon_deg required when given)"
                                    if cls is SiteInfo else ""))
        for f in fields(cls):
            m = f.metadata
            default = f.default if f.default is not MISSING else f.default_factory()
            rng = ""
            if m.get("choices"):
                rng = (" of " if m["kind"] is STRLIST else " one of ") + "|".join(m["choices"])
            elif m.get("lo") is not None or m.get("hi") is not None:
                rng = (f" in {'(' if m['lo_open'] else '['}{m['lo']}, {m['hi']}"
                       f"{')' if m.get('hi_open') else ']'}")
            kind = m["kind"] if isinstance(m["kind"], str) else m["kind"].__name__
            shown = "(required)" if cls is SiteInfo and f.name in _SITE_REQUIRED else \
                repr(default)
            lines.append(f"  {f.name} = {shown}  ({kind}{rng}) {m.get('doc', '')}".rstrip())
    return "\n".join(lines)

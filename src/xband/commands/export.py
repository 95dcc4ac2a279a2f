"""``xband export REC --to csv DIR`` / ``--to parquet DIR`` / ``--to asterix FILE``: a
recording's records as the CSV files of DESIGN.md, as Parquet files with the same columns, or
as one file of ASTERIX data blocks.

ASTERIX (the optional ``asterix`` extra, libasterix): detections as CAT048 target reports,
confirmed tracks as CAT062 system tracks, in recording order, with ``--sac``/``--sic``
(default 0/1), ``--service-id`` (1), ``--epoch`` (the UTC date-time of run time t = 0;
default midnight, so the ASTERIX time of day is t) and ``--site LAT,LON,ALT`` (the radar's
WGS-84 position: heights are written above its ellipsoidal height, and CAT062 gains I062/105
latitude/longitude). Without ``--site`` the recorded scenario's ``[site]`` table (in the
header's ``scenario_toml``) is the site; with neither, heights are above the radar and no
I062/105 is written. The mapping tables are in docs/interchange.md.

Parquet (the optional ``parquet`` extra, pyarrow): one file per table —
``detections``, ``tracks``, ``truth``, ``interceptor``, ``commands`` ``.parquet`` — with
exactly the CSV's column names, float64 values (``track_id``/``target_id`` int64,
``saturated`` bool), and in the file's key-value metadata ``xband_schema_version``
(:data:`PARQUET_SCHEMA_VERSION`), ``xband_table``, ``xband_recording`` (the source path),
``xband_complete`` (``true``/``false``) and ``xband_header`` (the recording's run header as
JSON).
"""
from __future__ import annotations

NAME = "export"
ORDER = 70
HELP = ("export a run recording to CSV or Parquet (detections, tracks, truth, interceptor, "
        "commands) or ASTERIX (CAT048 plots, CAT062 tracks)")

#: Version of the Parquet tables' layout, stored as ``xband_schema_version``.
PARQUET_SCHEMA_VERSION = "1"
COMMAND_COLUMNS = ["t", "ax", "ay", "az", "t_go", "saturated"]


def add_arguments(p) -> None:
    p.add_argument("recording", metavar="REC")
    p.add_argument("--to", choices=("csv", "parquet", "asterix"), default="csv",
                   help="output format (parquet needs the 'parquet' extra: pyarrow; asterix "
                        "the 'asterix' extra: libasterix)")
    p.add_argument("output", metavar="DIR|FILE",
                   help="directory for the files (csv, parquet) or the file (asterix)")
    g = p.add_argument_group("asterix")
    g.add_argument("--sac", type=int, default=0, help="I0xx/010 System Area Code (default 0)")
    g.add_argument("--sic", type=int, default=1,
                   help="I0xx/010 System Identification Code (default 1)")
    g.add_argument("--service-id", type=int, default=1,
                   help="I062/015 service identification (default 1)")
    g.add_argument("--epoch", metavar="ISO8601",
                   help="UTC date-time (or time of day) of run time t = 0 (default: midnight, "
                        "so the ASTERIX time of day equals t)")
    g.add_argument("--site", metavar="LAT,LON,ALT",
                   help="radar site (degrees, degrees, m above the WGS-84 ellipsoid): zero of "
                        "heights, and enables I062/105 WGS-84 positions (default: the "
                        "recorded scenario's [site] table, if any; "
                        "write --site=-33.9,151.2,10 when LAT < 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _require_pyarrow():
    """(pyarrow, pyarrow.parquet), or a ConfigError naming the extra."""
    from ..errors import ConfigError

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"--to parquet needs pyarrow, which is not installed ({exc}); "
                          f"install the 'parquet' extra: pip install 'xband[parquet]'") from None
    return pa, pq


def tables(rec) -> dict:
    """The recording's tables as {name: {column: 1-D numpy array}}, with the columns of the
    CSV export in its order (detections with sigmas; confirmed tracks only)."""
    import numpy as np

    from ..io.csvio import DET_COLUMNS, DET_SIGMAS, TRACK_COLUMNS, TRUTH_COLUMNS

    out = {}
    dets = rec.detections()
    cat = (lambda xs, empty=np.zeros(0): np.concatenate(xs) if xs else empty)
    d = {"t": cat([x.t for x in dets]), "range": cat([x.range for x in dets]),
         "azimuth": cat([x.az for x in dets]), "elevation": cat([x.el for x in dets]),
         "range_rate": cat([x.range_rate for x in dets]),
         "snr_db": cat([10 * np.log10(np.maximum(x.snr, 1e-300)) for x in dets])}
    sd = (np.concatenate([np.sqrt(np.diagonal(x.R, axis1=1, axis2=2)) for x in dets])
          if dets else np.zeros((0, 4)))
    for j, c in enumerate(DET_SIGMAS):
        d[c] = np.ascontiguousarray(sd[:, j])
    assert list(d) == DET_COLUMNS + DET_SIGMAS
    out["detections"] = d

    tracks = rec.tracks()
    dim = tracks[0].x.shape[1] if tracks else 6
    modes = tracks[0].mode_probs.shape[1] if tracks else 1
    conf = [tr.take(np.flatnonzero(tr.confirmed)) for tr in tracks]
    t = cat([c.t for c in conf])
    x = np.concatenate([c.x for c in conf]) if conf else np.zeros((0, dim))
    P = np.concatenate([np.diagonal(c.P, axis1=1, axis2=2) for c in conf]) if conf else \
        np.zeros((0, dim))
    mu = np.concatenate([c.mode_probs for c in conf]) if conf else np.zeros((0, modes))
    tc = {"t": t, "track_id": cat([c.id for c in conf], np.zeros(0, np.int64))}
    names = TRACK_COLUMNS[2:] + (["ax", "ay", "az"] if dim >= 9 else [])
    for j, c in enumerate(names):
        tc[c] = np.ascontiguousarray(x[:, j])
    for j, c in enumerate(["var_x", "var_y", "var_z", "var_vx", "var_vy", "var_vz"]):
        tc[c] = np.ascontiguousarray(P[:, j])
    for j in range(modes):
        tc[f"mu_{j}"] = np.ascontiguousarray(mu[:, j])
    out["tracks"] = tc

    rows = {"truth": [], "interceptor": []}
    for s in rec.states():
        for i in range(len(s)):
            rows["interceptor" if s.body_id[i] == 0 else "truth"].append(
                (s.t[i], int(s.body_id[i]), *s.pos[i], *s.vel[i]))
    for name, rs in rows.items():
        a = np.array([r[:1] + r[2:] for r in rs], np.float64).reshape(-1, 7)
        tab = {"t": np.ascontiguousarray(a[:, 0]),
               "target_id": np.array([r[1] for r in rs], np.int64)}
        for j, c in enumerate(TRUTH_COLUMNS[2:]):
            tab[c] = np.ascontiguousarray(a[:, j + 1])
        out[name] = tab

    cmds = rec.commands()
    a_cmd = np.concatenate([c.a_cmd for c in cmds]) if cmds else np.zeros((0, 3))
    out["commands"] = {"t": cat([c.t for c in cmds]), "ax": np.ascontiguousarray(a_cmd[:, 0]),
                       "ay": np.ascontiguousarray(a_cmd[:, 1]),
                       "az": np.ascontiguousarray(a_cmd[:, 2]),
                       "t_go": cat([c.t_go for c in cmds]),
                       "saturated": cat([c.saturated for c in cmds], np.zeros(0, bool))}
    return out


def write_parquet(path, columns: dict, metadata: dict) -> int:
    """Write one table (``{column: array}``) to ``path`` (via ``PATH.part``, renamed), with
    ``metadata`` (str → str) in the file's key-value metadata; returns the rows written."""
    import json
    from pathlib import Path

    pa, pq = _require_pyarrow()
    path = Path(path)
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    meta = {"xband_schema_version": PARQUET_SCHEMA_VERSION}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    tmp = path.with_name(path.name + ".part")
    try:
        pq.write_table(table, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return table.num_rows


def _export_parquet(rec, out, source: str) -> dict:
    import json

    _require_pyarrow()          # fail before writing anything
    header = json.dumps(rec.header, sort_keys=True, default=str)
    files = {}
    for name, cols in tables(rec).items():
        path = out / f"{name}.parquet"
        n = write_parquet(path, cols, {"xband_table": name, "xband_recording": source,
                                       "xband_complete": "true" if rec.complete else "false",
                                       "xband_header": header})
        files[name] = (str(path), n)
    return files


def _export_csv(rec, out) -> dict:
    import csv

    import numpy as np

    from ..io.csvio import TRUTH_COLUMNS, TrackWriter, write_detections

    files = {}
    dets = rec.detections()
    files["detections"] = (str(out / "detections.csv"), write_detections(out / "detections.csv",
                                                                          dets))
    tracks = rec.tracks()
    dim = tracks[0].x.shape[1] if tracks else 6
    modes = tracks[0].mode_probs.shape[1] if tracks else 1
    tw = TrackWriter(out / "tracks.csv", dim=dim, modes=modes)
    for tr in tracks:
        tw.write(tr)
    tw.close()
    files["tracks"] = (str(out / "tracks.csv"), tw.rows)

    def table(name, header, rows):
        path = out / name
        tmp = path.with_name(path.name + ".part")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                w.writerow([v if isinstance(v, (int, np.integer)) else repr(float(v))
                            for v in r])
        tmp.replace(path)
        return str(path), len(rows)

    truth, ownship = [], []
    for s in rec.states():
        for i in range(len(s)):
            row = [s.t[i], int(s.body_id[i]), *s.pos[i], *s.vel[i]]
            (ownship if s.body_id[i] == 0 else truth).append(row)
    files["truth"] = table("truth.csv", TRUTH_COLUMNS, truth)
    files["interceptor"] = table("interceptor.csv", TRUTH_COLUMNS, ownship)
    cmds = [[c.t[i], *c.a_cmd[i], c.t_go[i], int(c.saturated[i])]
            for c in rec.commands() for i in range(len(c))]
    files["commands"] = table("commands.csv", COMMAND_COLUMNS, cmds)
    return files


def _asterix_options(args):
    """The AsterixOptions of the command line (flags checked before any reading)."""
    from ..io.asterix import AsterixOptions, parse_epoch, require_asterix
    from ..io.geodetic import Site

    require_asterix()
    epoch_tod, _ = parse_epoch(args.epoch)
    site = Site.parse(args.site, "--site") if args.site else None
    return AsterixOptions(sac=args.sac, sic=args.sic, service_id=args.service_id,
                          epoch_tod=epoch_tod, site=site)


def recorded_site(rec, name: str = "recording"):
    """The Site of the recorded scenario's ``[site]`` table (header ``scenario_toml``), or
    None when the header holds no scenario or the scenario no ``[site]``."""
    from ..config import site_from_toml

    text = rec.header.get("scenario_toml")
    if not isinstance(text, str):
        return None
    return site_from_toml(text, f"{name} header scenario")


def _run_asterix(args, rec, opts) -> int:
    from dataclasses import replace
    from pathlib import Path

    from ..cli import print_json
    from ..io.asterix import export_recording, parse_epoch

    site_from = "--site" if opts.site is not None else None
    if opts.site is None:
        site = recorded_site(rec, str(args.recording))
        if site is not None:
            opts, site_from = replace(opts, site=site), "scenario [site]"

    out = Path(args.output)
    if out.is_dir():
        from ..errors import ConfigError
        raise ConfigError(f"--to asterix writes one file; {out} is a directory "
                          f"(give e.g. {out / 'run.ast'})")
    if out.parent != Path(""):
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            from ..errors import InputError
            raise InputError(f"{out}: cannot write: {e.strerror or e}") from None
    doc = export_recording(rec, out, opts)
    doc = {"recording": str(args.recording), "format": "asterix", "complete": rec.complete,
           "epoch": parse_epoch(args.epoch)[1], **doc,
           "site": (None if opts.site is None else
                    {"lat_deg": opts.site.lat_deg, "lon_deg": opts.site.lon_deg,
                     "h_m": opts.site.h_m, "from": site_from})}
    if args.json:
        print_json(doc)
        return 0
    print(f"xband export — {args.recording} → {out} (asterix)"
          + ("" if rec.complete else " (recording INTERRUPTED: exported what it holds)"))
    for cat in ("cat048", "cat062"):
        print(f"  {cat:<12}: {doc[cat]['records']:>7} records in {doc[cat]['blocks']} blocks")
    print(f"  bytes       : {doc['bytes']}")
    print(f"  source      : SAC {opts.sac}, SIC {opts.sic}, service {opts.service_id}; "
          f"t = 0 at {doc['epoch']} (time of day {opts.epoch_tod:g} s)")
    print("  WGS-84      : " + (f"I062/105 from site {opts.site.lat_deg:g}, "
                                f"{opts.site.lon_deg:g}, {opts.site.h_m:g} m ({site_from})"
                                if opts.site else "not written (no --site, no scenario [site])"))
    if doc["omitted"]:
        print("  omitted     : " + ", ".join(f"{k} {v}" for k, v in doc["omitted"].items())
              + " (value NaN or outside the item's range)")
    return 0


def run(args) -> int:
    from pathlib import Path

    from ..cli import print_json
    from ..io.recording import read_recording

    if args.to == "parquet":
        _require_pyarrow()      # a missing extra is reported before reading anything
    if args.to == "asterix":
        opts = _asterix_options(args)
        return _run_asterix(args, read_recording(args.recording), opts)
    rec = read_recording(args.recording)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    if args.to == "parquet":
        files = _export_parquet(rec, out, str(args.recording))
    else:
        files = _export_csv(rec, out)
    doc = {"recording": str(args.recording), "format": args.to, "complete": rec.complete,
           "files": {k: {"path": p, "rows": n} for k, (p, n) in files.items()}}
    if args.to == "parquet":
        doc["schema_version"] = PARQUET_SCHEMA_VERSION
    if args.json:
        print_json(doc)
        return 0
    print(f"xband export — {args.recording} → {out}/ ({args.to})"
          + ("" if rec.complete else " (recording INTERRUPTED: exported what it holds)"))
    for k, (p, n) in files.items():
        print(f"  {k:<12}: {n:>7} rows  {p}")
    return 0

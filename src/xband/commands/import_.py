"""``xband import adsb FILE.csv --site LAT,LON,ALT -o TRUTH.csv`` and
``xband import asterix FILE.ast -o DETECTIONS.csv``: external data → xband.

``adsb``: ADS-B state vectors (OpenSky or traffic column sets, see xband.io.adsb) → a truth
CSV (``t,target_id,x,y,z,vx,vy,vz``) in the ENU frame of the radar at ``--site``.

``asterix``: a file of concatenated ASTERIX data blocks (the optional ``asterix`` extra,
libasterix) → CAT048 target reports as the detections CSV of DESIGN.md (what ``xband track``
reads), and with ``--tracks`` CAT062 system tracks as a tracks CSV. ``--epoch`` is the UTC
date-time of t = 0 (default midnight: t is the ASTERIX time of day, unwrapped across
midnight); ``--site`` gives the ellipsoidal height that heights are measured from (its
latitude and longitude are not needed); ``--sac``/``--sic`` keep one source only. Damaged
input is reported (corrupt blocks skipped and counted, a truncated tail measured) and the
rest imported; docs/interchange.md has the mapping.
"""
from __future__ import annotations

NAME = "import"
ORDER = 75
HELP = ("import ADS-B state vectors (OpenSky / traffic CSV) as truth in the radar's ENU "
        "frame, or ASTERIX CAT048 plots as detections")


def add_arguments(p) -> None:
    p.add_argument("kind", choices=("adsb", "asterix"), help="what the input file holds")
    p.add_argument("input", metavar="FILE", help="FILE.csv (adsb) or FILE.ast (asterix)")
    p.add_argument("--site", metavar="LAT,LON,ALT",
                   help="radar site: latitude and longitude (degrees), height above the "
                        "WGS-84 ellipsoid (m); write --site=-33.9,151.2,10 when LAT < 0 "
                        "(required for adsb; for asterix the zero of heights, default 0 m)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                   help="write the truth CSV (adsb) or the detections CSV (asterix) here")
    p.add_argument("--epoch", metavar="T0",
                   help="time zero: adsb: s since 1970-01-01 UTC or an ISO 8601 date-time "
                        "(default: the earliest sample); asterix: ISO 8601 UTC date-time or "
                        "time of day (default: midnight)")
    p.add_argument("--tracks", metavar="TRACKS.csv",
                   help="asterix: also write the CAT062 tracks as a tracks CSV")
    p.add_argument("--sac", type=int, help="asterix: keep only this System Area Code")
    p.add_argument("--sic", type=int, help="asterix: keep only this System Identification Code")
    p.add_argument("--altitude", choices=("auto", "geo", "baro"), default="auto",
                   help="altitude column: geometric (GNSS), barometric, or geo when present "
                        "(default)")
    p.add_argument("--allow-unknown-columns", action="store_true",
                   help="ignore columns of neither known column set instead of refusing")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _write_tracks(path, tr: dict):
    """CAT062 columns → a tracks CSV (t,track_id,x,y,z,vx,vy,vz + var_* from I062/500),
    written to ``PATH.part`` (parent directories created) and left there for the caller to
    rename: returns (the ``.part`` path, rows). The ``.part`` is removed on any failure; an
    unwritable path is an InputError naming it."""
    import csv
    from pathlib import Path

    import numpy as np

    from ..errors import InputError
    from ..io.csvio import TRACK_COLUMNS, _open_part

    path = Path(path)
    order = np.argsort(tr["t"], kind="stable")
    tmp, f = _open_part(path)
    try:
        with f:
            w = csv.writer(f)
            var = ["var_x", "var_y", "var_z", "var_vx", "var_vy", "var_vz"]
            w.writerow(TRACK_COLUMNS + var)
            for i in order:
                row = [repr(float(tr["t"][i])), int(tr["track_id"][i])]
                row += [repr(float(tr[c][i])) for c in ("x", "y", "z", "vx", "vy", "vz")]
                row += [repr(float(tr["sigma_" + c[4:]][i]) ** 2) for c in var]
                w.writerow(row)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, int(order.size)


def _write_outputs(output, plots: dict, tracks_path, tracks: dict | None):
    """The detections CSV and (``tracks_path``) the tracks CSV, both written to their
    ``.part`` first and renamed only when both are complete: a failure leaves neither final
    file nor a ``.part``. Returns (detection rows, track rows or None)."""
    from pathlib import Path

    from ..errors import ConfigError, InputError
    from ..io.asterix import write_detections_part

    output = Path(output)
    if tracks_path is not None and Path(tracks_path).resolve() == output.resolve():
        raise ConfigError(f"--tracks: {tracks_path} is also the -o output; give another "
                          "file")
    parts = []
    try:
        det_tmp, rows = write_detections_part(output, plots)
        parts.append((det_tmp, output))
        track_rows = None
        if tracks_path is not None:
            trk_tmp, track_rows = _write_tracks(tracks_path, tracks)
            parts.append((trk_tmp, Path(tracks_path)))
        done = []
        for tmp, final in parts:
            try:
                tmp.replace(final)
            except OSError as e:
                for d in done:                      # all or nothing
                    d.unlink(missing_ok=True)
                raise InputError(f"{final}: cannot write: {e.strerror or e}") from None
            done.append(final)
    finally:
        for tmp, _ in parts:
            tmp.unlink(missing_ok=True)             # no-op after a rename
    return rows, track_rows


def _run_asterix(args) -> int:
    import numpy as np

    from ..cli import print_json
    from ..io.asterix import parse_epoch, read_asterix, require_asterix
    from ..io.geodetic import Site

    require_asterix()
    epoch_tod, epoch = parse_epoch(args.epoch)
    site_h = Site.parse(args.site, "--site").h_m if args.site else 0.0
    got = read_asterix(args.input, epoch_tod=epoch_tod, site_h=site_h, sac=args.sac,
                       sic=args.sic)
    if got.bytes and not got.blocks:
        from ..errors import InputError
        raise InputError(f"{args.input}: not a file of ASTERIX data blocks: "
                         f"{got.problems[0] if got.problems else 'no block found'}")
    rows, track_rows = _write_outputs(args.output, got.plots, args.tracks,
                                      got.tracks if args.tracks else None)
    p = got.plots
    doc = {"input": str(args.input), "output": str(args.output), "format": "asterix",
           "epoch": epoch, "epoch_tod_s": epoch_tod, "site_h_m": site_h,
           "rows_written": rows, **got.report(),
           "missing": {"elevation": int(np.isnan(p["el"]).sum()),
                       "range_rate": int(np.isnan(p["range_rate"]).sum()),
                       "snr_db": int(np.isnan(p["snr_db"]).sum())},
           "simulated_plots": int(np.sum(p["sim"] == 1)),
           "sources": sorted({f"{int(a)}/{int(b)}" for a, b in zip(p["sac"], p["sic"])}),
           "t_span_s": [float(p["t"].min()), float(p["t"].max())] if rows else None}
    if args.tracks:
        doc["tracks_output"] = str(args.tracks)
        doc["track_rows_written"] = track_rows
    if args.json:
        print_json(doc)
        return 0
    print(f"xband import asterix — {args.input} → {args.output}")
    print("  blocks    : " + (", ".join(f"{k} {v}" for k, v in doc["blocks"].items())
                              or "none"))
    print(f"  plots     : {rows} written" + (
        " (" + ", ".join(f"{k}: {v}" for k, v in doc["skipped_plots"].items()) + " skipped)"
        if doc["skipped_plots"] else "") + (f" from SAC/SIC {', '.join(doc['sources'])}"
                                            if doc["sources"] else ""))
    miss = {k: v for k, v in doc["missing"].items() if v}
    if miss:
        print("  missing   : " + ", ".join(f"{k} in {v}" for k, v in miss.items())
              + " (written as nan)")
    if args.tracks:
        sk = doc["skipped_tracks"]
        print(f"  tracks    : {doc['track_rows_written']} CAT062 rows → {args.tracks}"
              + (" (" + ", ".join(f"{k}: {v}" for k, v in sk.items()) + " skipped)"
                 if sk else ""))
    if rows:
        print(f"  time      : {doc['t_span_s'][0]:g} … {doc['t_span_s'][1]:g} s after {epoch}")
    if doc["unsupported_categories"]:
        print("  ignored   : " + ", ".join(f"CAT{int(k):03d} × {v}" for k, v in
                                           doc["unsupported_categories"].items())
              + " (unsupported categories)")
    if not got.ok:
        print(f"  DAMAGED   : {got.corrupt_blocks} corrupt block(s) skipped, "
              f"{got.torn_tail_bytes} byte(s) of truncated tail")
        for msg in got.problems[:5]:
            print(f"    {msg}")
    return 0


def run(args) -> int:
    from ..cli import print_json
    from ..io.adsb import read_adsb
    from ..io.geodetic import Site

    if args.kind == "asterix":
        return _run_asterix(args)
    if not args.site:
        from ..errors import ConfigError
        raise ConfigError("import adsb: --site LAT,LON,ALT is required (the radar site "
                          "whose ENU frame the truth is written in)")
    site = Site.parse(args.site, "--site")
    imp = read_adsb(args.input, site, epoch=args.epoch, altitude=args.altitude,
                    allow_unknown=args.allow_unknown_columns)
    rows = imp.write(args.output)
    skipped = {k: v for k, v in imp.skipped.items() if v}
    doc = {"input": str(args.input), "output": str(args.output), "format": imp.format,
           "site": {"lat_deg": site.lat_deg, "lon_deg": site.lon_deg, "h_m": site.h_m},
           "epoch_s": imp.epoch, "altitude": imp.altitude, "rows_read": imp.rows,
           "rows_written": rows, "skipped": skipped, "first_bad": imp.first_bad,
           "targets": len(imp.icao24), "icao24": imp.icao24,
           "t_span_s": [float(imp.t.min()), float(imp.t.max())] if rows else None}
    if args.json:
        print_json(doc)
        return 0
    print(f"xband import adsb — {args.input} ({imp.format}) → {args.output}")
    print(f"  site      : {site.lat_deg:.6f}°, {site.lon_deg:.6f}°, {site.h_m:g} m "
          f"(altitude: {imp.altitude})")
    print(f"  rows      : {imp.rows} read, {rows} written, "
          f"{sum(skipped.values())} skipped"
          + (" (" + ", ".join(f"{k} {v}" for k, v in skipped.items()) + ")" if skipped else ""))
    if imp.first_bad:
        print(f"  first bad : {imp.first_bad}")
    if rows:
        print(f"  time      : {doc['t_span_s'][0]:g} … {doc['t_span_s'][1]:g} s after epoch "
              f"{imp.epoch:.3f} s")
    print(f"  targets   : {len(imp.icao24)}")
    for icao, tid in list(imp.icao24.items())[:20]:
        print(f"    {tid:>4} ← {icao}")
    if len(imp.icao24) > 20:
        print(f"    … {len(imp.icao24) - 20} more (see --json)")
    return 0

"""``xband import adsb FILE.csv --site LAT,LON,ALT -o TRUTH.csv``: external data → xband.

``adsb``: ADS-B state vectors (OpenSky or traffic column sets, see xband.io.adsb) → a truth
CSV (``t,target_id,x,y,z,vx,vy,vz``) in the ENU frame of the radar at ``--site``.
"""
from __future__ import annotations

NAME = "import"
ORDER = 75
HELP = "import ADS-B state vectors (OpenSky / traffic CSV) as truth in the radar's ENU frame"


def add_arguments(p) -> None:
    p.add_argument("kind", choices=("adsb",), help="what the input file holds")
    p.add_argument("input", metavar="FILE.csv")
    p.add_argument("--site", required=True, metavar="LAT,LON,ALT",
                   help="radar site: latitude and longitude (degrees), height above the "
                        "WGS-84 ellipsoid (m); write --site=-33.9,151.2,10 when LAT < 0")
    p.add_argument("-o", "--output", required=True, metavar="TRUTH.csv",
                   help="write the truth CSV here")
    p.add_argument("--epoch", metavar="T0",
                   help="time zero: s since 1970-01-01 UTC or an ISO 8601 date-time "
                        "(default: the earliest sample)")
    p.add_argument("--altitude", choices=("auto", "geo", "baro"), default="auto",
                   help="altitude column: geometric (GNSS), barometric, or geo when present "
                        "(default)")
    p.add_argument("--allow-unknown-columns", action="store_true",
                   help="ignore columns of neither known column set instead of refusing")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..cli import print_json
    from ..io.adsb import read_adsb
    from ..io.geodetic import Site

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

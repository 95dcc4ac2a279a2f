#!/usr/bin/env python
"""Make ``cdg_20211007.csv``: three real flights near Paris-CDG, from the ``traffic``
package's ``quickstart`` sample, as OpenSky-style state vectors (see README.md here).

    python examples/flights/make_extract.py            # rewrites the committed extract
    python examples/flights/make_extract.py -o X.csv   # writes it elsewhere

What it does, and nothing more:

1. reads the sample file ``traffic/data/samples/collections/quickstart.json.gz`` of the
   *installed* ``traffic`` distribution (found through its metadata, so no network and no
   copy of traffic's files here) with ``pandas.read_json(path, dtype={"icao24": str})`` —
   the call ``traffic.data.samples`` itself makes. ``traffic`` is not imported: its
   ``traffic.core`` does not import under pandas ≥ 3 (xoolive/traffic#537), and importing
   it writes a config and a cache directory under $HOME;
2. keeps the aircraft of ``FLIGHTS`` from ``START`` − ``HALF_WINDOW_S`` to ``STOP`` +
   ``HALF_WINDOW_S`` (UTC, 1 s samples);
3. smooths each aircraft's positions (:func:`smooth_positions`: the integral of its
   reported velocity, re-anchored on the reported positions by a ±``HALF_WINDOW_S`` moving
   average) — the reported positions jitter along the track by tens of metres, which a
   radar with 5 m range resolution would see as impossible accelerations; velocities,
   times and everything else are kept as reported;
4. keeps one sample every ``EVERY_S`` seconds (whole multiples of it since the Unix
   epoch) from ``START`` to ``STOP``;
5. converts traffic's units to OpenSky's state-vector units (ft → m, kt → m/s,
   ft/min → m/s) and writes ``time,icao24,lat,lon,velocity,heading,vertrate,
   baroaltitude,geoaltitude,callsign`` with fixed decimals. The sample has no geometric
   altitude, so ``geoaltitude`` is empty and `xband import adsb` uses the barometric one.

The output depends only on the sample file: running it again gives the same bytes
(tests/e2e/test_real_flights.py checks the committed file against a fresh extract).
"""
from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

SAMPLE = "traffic/data/samples/collections/quickstart.json.gz"
#: icao24 → (callsign, what it does in the window)
FLIGHTS = {
    "3985a6": ("AFR54JE", "arrival from the west, straight in, descending to 85 m, 15 → 3 km"),
    "3991e3": ("AFR1285", "arrival from the south-east at 4 km, 50° left turn, 28 → 10 km"),
    "3946e9": ("AFR16GZ", "departure, climbing from 1 km in a 150° right turn, 14 → 26 km"),
}
START = "2021-10-07T13:33:40"     # UTC
STOP = "2021-10-07T13:36:00"      # UTC, inclusive
EVERY_S = 2
#: half width of the moving average that re-anchors the integrated velocity (s)
HALF_WINDOW_S = 15

FT = 0.3048                 # m
KT = 1852.0 / 3600.0        # m/s
FPM = FT / 60.0             # m/s
COLUMNS = ("time", "icao24", "lat", "lon", "velocity", "heading", "vertrate",
           "baroaltitude", "geoaltitude", "callsign")
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "cdg_20211007.csv"


def sample_path() -> tuple[Path, str]:
    """The quickstart sample of the installed traffic distribution, and its version."""
    try:
        dist = metadata.distribution("traffic")
    except metadata.PackageNotFoundError:
        raise SystemExit("make_extract: the 'traffic' package is not installed "
                         "(pip install 'traffic>=2.12'; it is in xband's test extra)") from None
    path = Path(dist.locate_file(SAMPLE))
    if not path.is_file():
        raise SystemExit(f"make_extract: traffic {dist.version} has no sample {SAMPLE} "
                         f"(looked at {path})")
    return path, dist.version


def _epoch_s(ts):
    """pandas datetimes (naive = UTC) → int64 s since the Unix epoch."""
    import pandas as pd

    ts = pd.to_datetime(ts)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = ts.to_numpy(dtype="datetime64[ns]").astype("int64")      # floor to whole seconds
    return pd.Series(ns // 1_000_000_000, index=ts.index, dtype="int64")


def smooth_positions(t, lat, lon, h, gs, track, vz, half_window_s=HALF_WINDOW_S):
    """Positions of one aircraft re-anchored on its integrated velocity (README.md here).

    ``t`` (s, increasing), ``lat``/``lon`` (deg), ``h`` (m), ground speed ``gs`` (m/s),
    ``track`` (deg from north), vertical rate ``vz`` (m/s). In the ENU frame at the first
    sample: p̂(t) = I(t) + mean over |tᵢ − t| ≤ W of (p(tᵢ) − I(tᵢ)), I the trapezoidal
    integral of the velocity (each sample's local ENU velocity rotated into that frame).
    The velocity reports are smooth; the positions jitter by tens of metres because a
    state vector's position is not sampled at the state vector's time. Returns the
    smoothed (lat, lon, h) at ``t``."""
    import numpy as np

    from xband.io.geodetic import enu_to_geodetic_deg, geodetic_to_enu_deg, \
        local_enu_vector_to_site

    lat0, lon0, h0 = float(lat[0]), float(lon[0]), float(h[0])
    p = np.stack(geodetic_to_enu_deg(lat, lon, h, lat0, lon0, h0), axis=1)
    chi = np.radians(track)
    v = np.stack(local_enu_vector_to_site(gs * np.sin(chi), gs * np.cos(chi), vz,
                                          np.radians(lat), np.radians(lon),
                                          np.radians(lat0), np.radians(lon0)), axis=1)
    integral = np.zeros_like(p)
    integral[1:] = np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(t)[:, None], axis=0)
    d = p - integral
    near = np.abs(t[:, None] - t[None, :]) <= half_window_s
    anchor = (near @ d) / near.sum(axis=1)[:, None]
    ps = integral + anchor
    return enu_to_geodetic_deg(ps[:, 0], ps[:, 1], ps[:, 2], lat0, lon0, h0)


def load_sample(path: Path):
    """The sample as a pandas DataFrame, read as traffic.data.samples reads it."""
    import pandas as pd

    return pd.read_json(path, dtype={"icao24": str})


def extract(df, smooth: bool = True):
    """The rows of the extract from the sample ``df`` (:func:`load_sample`): a pandas
    DataFrame with COLUMNS less geoaltitude, sorted by time, icao24. ``smooth=False``:
    the sample's positions as they are."""
    import numpy as np
    import pandas as pd

    sec = _epoch_s(df["timestamp"])
    t0, t1 = (int(_epoch_s(pd.Series([pd.Timestamp(x)])).iloc[0]) for x in (START, STOP))
    pad = HALF_WINDOW_S if smooth else 0
    cols = ["latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate"]
    parts = []
    for icao in FLIGHTS:
        d = df.loc[((df["icao24"] == icao) & (sec >= t0 - pad) & (sec <= t1 + pad)).to_numpy()]
        d = d.assign(time=sec[d.index]).sort_values("time", kind="stable")
        d = d.drop_duplicates("time", keep="first").dropna(subset=cols)
        if not len(d):
            raise SystemExit(f"make_extract: the sample has no samples of {icao} between "
                             f"{START} and {STOP} UTC")
        t = d["time"].to_numpy(np.float64)
        lat, lon = d["latitude"].to_numpy(float), d["longitude"].to_numpy(float)
        h = d["altitude"].to_numpy(float) * FT
        gs = d["groundspeed"].to_numpy(float) * KT
        trk = d["track"].to_numpy(float)
        vz = d["vertical_rate"].to_numpy(float) * FPM
        if smooth:
            lat, lon, h = smooth_positions(t, lat, lon, h, gs, trk, vz)
        keep = (t >= t0) & (t <= t1) & (d["time"].to_numpy() % EVERY_S == 0)
        parts.append(pd.DataFrame({
            "time": d["time"].to_numpy(np.int64)[keep],
            "icao24": icao,
            "lat": np.asarray(lat)[keep], "lon": np.asarray(lon)[keep],
            "velocity": gs[keep], "heading": trk[keep], "vertrate": vz[keep],
            "baroaltitude": np.asarray(h)[keep],
            "callsign": d["callsign"].astype(str).str.strip().to_numpy(str)[keep],
        }))
    return pd.concat(parts).sort_values(["time", "icao24"], kind="stable").reset_index(drop=True)


def _num(x: float, decimals: int) -> str:
    import math
    return "" if not math.isfinite(x) else f"{x:.{decimals}f}"


def write(out, dest: Path) -> int:
    """Write the extract CSV; returns the rows written."""
    lines = [",".join(COLUMNS)]
    for r in out.itertuples(index=False):
        lines.append(",".join([str(int(r.time)), r.icao24, _num(r.lat, 6), _num(r.lon, 6),
                               _num(r.velocity, 3), _num(r.heading, 3), _num(r.vertrate, 5),
                               _num(r.baroaltitude, 3), "", r.callsign]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return len(lines) - 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT,
                    help="CSV to write (default: %(default)s)")
    ap.add_argument("--no-smooth", action="store_true",
                    help="keep the sample's positions as they are (for comparison)")
    args = ap.parse_args(argv)
    path, version = sample_path()
    n = write(extract(load_sample(path), smooth=not args.no_smooth), args.output)
    print(f"make_extract: traffic {version} {SAMPLE} → {args.output} ({n} rows, "
          f"{len(FLIGHTS)} aircraft, {START} … {STOP} UTC every {EVERY_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

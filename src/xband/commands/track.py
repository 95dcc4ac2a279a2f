"""``xband track DETECTIONS.csv -o TRACKS.csv``: run the tracker on recorded detections."""
from __future__ import annotations

NAME = "track"
ORDER = 20
HELP = "run the multi-target tracker on a detections CSV and write the tracks CSV"


def add_arguments(p) -> None:
    p.add_argument("detections", metavar="DETECTIONS.csv")
    p.add_argument("-o", "--output", metavar="TRACKS.csv", help="write confirmed tracks here")
    p.add_argument("--scenario", metavar="SCENARIO.toml",
                   help="take the [tracker] and [radar] sigmas from this scenario")
    p.add_argument("--filter", choices=("imm", "ekf"), help="override [tracker] filter")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="draw the tracks and detections")


def run(args) -> int:
    import time
    from dataclasses import replace

    from ..cli import print_json
    from ..config import default_scenario, load_scenario
    from ..io.csvio import TrackWriter, read_detections
    from ..track.tracker import Tracker

    sc = load_scenario(args.scenario) if args.scenario else default_scenario()
    cfg = sc.tracker if args.filter is None else replace(sc.tracker, filter=args.filter)
    r = sc.radar
    scans = read_detections(args.detections, default_sigma=(
        r.sigma_range_m, r.sigma_azimuth_rad, r.sigma_elevation_rad, r.sigma_range_rate_mps))
    tracker = Tracker(cfg)
    writer = None
    if args.output:
        writer = TrackWriter(args.output, dim=tracker.bank.dim,
                             modes=len(tracker.bank.models))
    history = []
    spent = 0.0
    try:
        for d in scans:
            t0 = time.perf_counter()
            tracks = tracker.step(d, float(d.t[0]))
            spent += time.perf_counter() - t0
            if writer is not None:
                writer.write(tracks)
            if args.plot:
                history.append(tracks.take(tracks.confirmed))
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    st = tracker.stats
    n = max(st["scans"], 1)
    doc = {"scans": st["scans"], "detections": int(sum(len(d) for d in scans)),
           "tracks_confirmed": st["confirmed"], "tracks_deleted": st["deleted"],
           "tracks_initiated": st["initiated"], "rejected_nonfinite": st["rejected_nonfinite"],
           "seconds": spent, "seconds_per_scan": spent / n, "filter": cfg.filter,
           "rows_written": writer.rows if writer is not None else 0,
           "output": args.output}
    if args.plot:
        _plot(args.plot, scans, history)
        doc["plot"] = args.plot
    if args.json:
        print_json(doc)
        return 0
    print(f"xband track — {args.detections}: {doc['scans']} scans, {doc['detections']} "
          f"detections ({doc['rejected_nonfinite']} non-finite rejected)")
    print(f"  filter    : {cfg.filter} " + (f"({', '.join(cfg.imm_models)})"
                                            if cfg.filter == "imm" else "(CV EKF)"))
    print(f"  tracks    : {doc['tracks_confirmed']} confirmed, {doc['tracks_deleted']} deleted, "
          f"{doc['tracks_initiated']} initiated")
    print(f"  time      : {1e3 * spent:.2f} ms tracking, {1e6 * spent / n:.1f} µs per scan")
    if args.output:
        print(f"  wrote     : {args.output} ({doc['rows_written']} rows)")
    if args.plot:
        print(f"  wrote     : {args.plot}")
    return 0


def _plot(path, scans, history) -> None:
    import numpy as np

    from ..plots import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 8))
    if scans:
        r = np.concatenate([d.range for d in scans])
        az = np.concatenate([d.az for d in scans])
        el = np.concatenate([d.el for d in scans])
        ok = np.isfinite(az) & np.isfinite(el)
        ax.plot((r * np.cos(el) * np.sin(az))[ok] / 1e3, (r * np.cos(el) * np.cos(az))[ok] / 1e3,
                ".", ms=2, color="0.75", label="detections")
    ids = np.unique(np.concatenate([h.id for h in history])) if history else []
    for tid in ids:
        pts = np.array([h.x[h.id == tid][0, :2] for h in history if tid in h.id])
        ax.plot(pts[:, 0] / 1e3, pts[:, 1] / 1e3, "-", lw=1.5)
        ax.annotate(str(tid), pts[-1] / 1e3, fontsize=7)
    ax.set_xlabel("east (km)")
    ax.set_ylabel("north (km)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"xband track: {len(ids)} confirmed tracks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

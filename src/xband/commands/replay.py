"""``xband replay REC``: what a recording holds, and re-running the tracker on it.

``--through track`` feeds the recorded detections, scan by scan, to a tracker built from
the recorded scenario's ``[tracker]`` table (or from ``--scenario FILE``) and compares its
tracks with the recorded ones bit for bit: it prints ``OK`` or the first difference (scan,
time, field). With the recorded configuration and kernel backend the replay must reproduce
the recording exactly; with another configuration it reports that it differs and where.
``--realtime`` paces the replay at the recorded scan times.
"""
from __future__ import annotations

NAME = "replay"
ORDER = 60
HELP = "summarise a run recording; --through track re-runs the tracker and checks it"


def add_arguments(p) -> None:
    p.add_argument("recording", metavar="REC")
    p.add_argument("--through", choices=("track",), help="re-run this stage on the recording")
    p.add_argument("--scenario", metavar="SCENARIO.toml",
                   help="tracker configuration to replay with (default: the recorded one)")
    p.add_argument("--realtime", action="store_true", help="pace at the recorded timing")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _first_difference(a, b) -> str | None:
    """None when Tracks a and b are bitwise equal, else a description of the first field
    that differs."""
    import numpy as np

    for name in ("id", "confirmed", "x", "P", "mode_probs"):
        u, v = getattr(a, name), getattr(b, name)
        if u.shape != v.shape:
            return f"{name}: shape {v.shape} replayed vs {u.shape} recorded"
        if not np.array_equal(u, v, equal_nan=True):
            diff = np.abs(np.asarray(u, float) - np.asarray(v, float))
            return f"{name}: max |difference| {np.nanmax(diff):.3g}"
    return None


def run(args) -> int:
    import time
    from collections import Counter

    from ..cli import print_json
    from ..config import load_scenario, parse_scenario
    from ..errors import RecordingError
    from ..io.recording import read_recording

    rec = read_recording(args.recording)
    h = rec.header
    counts = Counter(m.kind for m in rec.messages)
    ts = [m.t for m in rec.messages]
    doc = {"recording": str(args.recording), "complete": rec.complete,
           "integrity": {"frames": rec.integrity.frames,
                         "torn_tail_bytes": rec.integrity.torn_tail_bytes,
                         "corrupt_frames": rec.integrity.corrupt_frames,
                         "ok": rec.integrity.ok},
           "scenario": h.get("scenario_name"), "seed": h.get("seed"),
           "backend": h.get("backend"), "xband_version": h.get("xband_version"),
           "messages": dict(counts), "t_first_s": min(ts) if ts else None,
           "t_last_s": max(ts) if ts else None, "footer": rec.footer}
    if args.through == "track":
        from ..track.tracker import Tracker

        if args.scenario:
            sc, source = load_scenario(args.scenario), args.scenario
        elif h.get("scenario_toml") is not None:
            sc, source = parse_scenario(h["scenario_toml"], f"{args.recording} header"), \
                "recorded"
        else:
            raise RecordingError(f"{args.recording}: header holds no scenario; pass "
                                 "--scenario")
        scans = rec.detections()
        recorded = rec.tracks()
        tracker = Tracker(sc.tracker)
        first = None
        t_start, t0 = time.perf_counter(), None
        spent = 0.0
        for k, d in enumerate(scans):
            t = float(rec.times("detections")[k])
            if args.realtime:
                t0 = t if t0 is None else t0
                delay = (t - t0) - (time.perf_counter() - t_start)
                if delay > 0:
                    time.sleep(delay)
            c0 = time.perf_counter()
            out = tracker.step(d, t)
            spent += time.perf_counter() - c0
            if first is None:
                if k >= len(recorded):
                    first = f"scan {k} (t = {t:.6f} s): no recorded tracks"
                else:
                    diff = _first_difference(recorded[k], out)
                    if diff:
                        first = f"scan {k} (t = {t:.6f} s): {diff}"
        if first is None and len(recorded) != len(scans):
            first = f"{len(recorded)} recorded track lists for {len(scans)} scans"
        doc["through"] = {"stage": "track", "config": source, "scans": len(scans),
                          "identical": first is None, "first_difference": first,
                          "seconds": spent,
                          "scans_per_second": len(scans) / spent if spent > 0 else None}
    if args.json:
        print_json(doc)
        return 0 if doc.get("through", {}).get("identical", True) or args.scenario else 1
    print(f"xband replay — {args.recording}")
    print(f"  run       : scenario {doc['scenario']!r}, seed {doc['seed']}, kernels "
          f"{doc['backend']}, xband {doc['xband_version']}")
    print(f"  status    : {'complete' if rec.complete else 'INTERRUPTED (no end marker)'}; "
          f"{rec.integrity.summary()}")
    span = (f"{doc['t_first_s']:.3f} … {doc['t_last_s']:.3f} s" if ts else "empty")
    print(f"  messages  : " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f"; {span}")
    th = doc.get("through")
    if th:
        verdict = "OK — identical to the recording" if th["identical"] else \
            f"DIFFERS — first difference at {th['first_difference']}"
        print(f"  replay    : tracker ({th['config']} config) on {th['scans']} scans, "
              f"{th['scans_per_second'] or 0:.0f} scans/s: {verdict}")
        if not th["identical"] and not args.scenario:
            return 1
    return 0

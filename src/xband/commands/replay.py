"""``xband replay REC``: what a recording holds, and re-running the tracker on it.

``--through track`` feeds the recorded detections, scan by scan, to a tracker built from
the recorded scenario's ``[tracker]`` table (or from ``--scenario FILE``) and compares its
tracks with the recorded ones bit for bit: it prints ``OK`` or the first difference (scan,
time, field). With the recorded configuration and kernel backend the replay must reproduce
the recording exactly; with another configuration it reports that it differs and where.
``--through guide`` re-runs designation and guidance on the recorded tracks and plant
states (a scenario with ``[guidance] on = "track"`` or ``"truth"``) and compares every
command with the recorded one bit for bit. ``--realtime`` paces the replay at the recorded
times.
"""
from __future__ import annotations

NAME = "replay"
ORDER = 60
HELP = "summarise a run recording; --through track re-runs the tracker and checks it"


def add_arguments(p) -> None:
    p.add_argument("recording", metavar="REC")
    p.add_argument("--through", choices=("track", "guide"),
                   help="re-run this stage on the recording and check it")
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


def _scenario(args, h):
    from ..config import load_scenario, parse_scenario
    from ..errors import RecordingError

    if args.scenario:
        return load_scenario(args.scenario), args.scenario
    if h.get("scenario_toml") is not None:
        return (parse_scenario(h["scenario_toml"], f"{args.recording} header", recorded=True),
                "recorded")
    raise RecordingError(f"{args.recording}: header holds no scenario; pass --scenario")


def _through_guide(rec, args, h) -> dict:
    """Designation + guidance on the recorded tracks and states; bitwise check of every
    recorded command. The plant state recorded right after a command (same time) is the
    state that command was computed from; a scan's tracks take the cue from the next state
    recorded at the same time."""
    import numpy as np

    from ..errors import RecordingError
    from ..pipeline import Host

    sc, source = _scenario(args, h)
    if sc.guidance.on == "noisy":
        raise RecordingError(f"{args.recording}: guidance on 'noisy' draws random numbers "
                             "at run time; --through guide replays 'track' and 'truth' runs")
    host = Host(sc, np.random.default_rng(0))
    msgs = rec.messages
    first, n = None, 0

    def state_at(i, t):
        for m in msgs[i + 1:]:
            if m.t != t:
                return None
            if m.kind == "state":
                return m.record
        return None

    for i, m in enumerate(msgs):
        if m.kind == "tracks" and sc.guidance.on == "track":
            st = state_at(i, m.t)
            if st is None:
                continue
            cue = st.pos[list(st.body_id).index(1)]
            host.on_tracks(m.t, m.record.take(m.record.confirmed), cue)
        elif m.kind == "command":
            st = state_at(i, m.t)
            if st is None:
                continue
            cmd = host.on_guidance(m.t, st)
            n += 1
            if first is None:
                for f in ("a_cmd", "t_go", "saturated"):
                    if not np.array_equal(getattr(cmd, f), getattr(m.record, f),
                                          equal_nan=True):
                        first = f"command at t = {m.t:.6f} s: {f} differs"
                        break
    return {"stage": "guide", "config": source, "commands": n,
            "identical": first is None and n > 0,
            "first_difference": first if n else "no commands in the recording"}


def run(args) -> int:
    import time
    from collections import Counter

    from ..cli import print_json
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

        sc, source = _scenario(args, h)
        scans = rec.detections()
        recorded = rec.tracks()
        tracker = Tracker(sc.tracker)
        first = None
        t_start, t0 = time.perf_counter(), None
        spent = 0.0
        times = rec.times("detections")
        for k, d in enumerate(scans):
            t = float(times[k])
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
    if args.through == "guide":
        doc["through"] = _through_guide(rec, args, h)
    if args.json:
        print_json(doc)
        return 0 if doc.get("through", {}).get("identical", True) or args.scenario else 1
    print(f"xband replay — {args.recording}")
    print(f"  run       : scenario {doc['scenario']!r}, seed {doc['seed']}, kernels "
          f"{doc['backend']}, xband {doc['xband_version']}")
    print(f"  status    : {'complete' if rec.complete else 'INTERRUPTED (no end marker)'}; "
          f"{rec.integrity.summary()}")
    span = (f"{doc['t_first_s']:.3f} … {doc['t_last_s']:.3f} s" if ts else "empty")
    print("  messages  : " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
          + f"; {span}")
    th = doc.get("through")
    if th:
        verdict = "OK — identical to the recording" if th["identical"] else \
            f"DIFFERS — first difference at {th['first_difference']}"
        what = (f"tracker ({th['config']} config) on {th['scans']} scans, "
                f"{th['scans_per_second'] or 0:.0f} scans/s" if th["stage"] == "track" else
                f"guidance ({th['config']} config) on {th['commands']} commands")
        print(f"  replay    : {what}: {verdict}")
        if not th["identical"] and not args.scenario:
            return 1
    return 0

"""``xband export REC --to csv DIR``: a recording's records as the CSV files of DESIGN.md."""
from __future__ import annotations

NAME = "export"
ORDER = 70
HELP = "export a run recording to CSV (detections, tracks, truth, interceptor, commands)"


def add_arguments(p) -> None:
    p.add_argument("recording", metavar="REC")
    p.add_argument("--to", choices=("csv",), default="csv", help="output format")
    p.add_argument("output", metavar="DIR", help="directory for the files")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    import csv
    from pathlib import Path

    import numpy as np

    from ..cli import print_json
    from ..io.csvio import TRUTH_COLUMNS, TrackWriter, write_detections
    from ..io.recording import read_recording

    rec = read_recording(args.recording)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
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
    files["commands"] = table("commands.csv", ["t", "ax", "ay", "az", "t_go", "saturated"],
                              cmds)
    doc = {"recording": str(args.recording), "complete": rec.complete,
           "files": {k: {"path": p, "rows": n} for k, (p, n) in files.items()}}
    if args.json:
        print_json(doc)
        return 0
    print(f"xband export — {args.recording} → {out}/"
          + ("" if rec.complete else " (recording INTERRUPTED: exported what it holds)"))
    for k, (p, n) in files.items():
        print(f"  {k:<12}: {n:>7} rows  {p}")
    return 0

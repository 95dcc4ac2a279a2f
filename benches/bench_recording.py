"""Recording: its cost at full demo rate, replay speed, SigMF streaming reads.

* **frames/s written at demo rate** — the message stream of one demo run (read back from
  its recording: detections and tracks per scan, command and plant state per guidance
  step) written again through ``RecordingWriter``, flushed once per scan as the run loop
  does; frames/s and MB/s (file creation and close included), µs per guidance step
  (command + state) and per scan (detections + tracks + flush), the writes alone.
* **share of the demo's run time** — the demo's pipeline (``pipeline.run``) run with and
  without a recorder in the same process, alternately, several rounds: the median ratio of
  the wall times, and the "record" stage's share of the recorded run (the pipeline's own
  stage timer).
* **replay** — ``xband replay REC --through track`` in-process: scans/s through the tracker
  (the command's own figure) and scans/s of the whole command (read + decode + track +
  compare).
* **SigMF streaming** — a recording of demo CPIs read CPI by CPI (``read_sigmf``:
  memory-mapped, each CPI copied out as a Cube) vs ``numpy.fromfile`` of the whole data
  file, MB/s.

``python benches/bench_recording.py`` prints the table (``--rounds N``; ``--before REV`` also
records the demo with the writer of git revision REV — its codec, messages and recording
modules loaded beside today's — and today's, alternately, and compares); the pytest-benchmark
groups ("recording write", "sigmf read") pair the same operations for ``make bench``:

    XBAND_KERNELS=cython .venv/bin/python benches/bench_recording.py
    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_recording.py \
        --benchmark-only --benchmark-group-by=group --benchmark-columns=median,rounds
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from xband import pipeline
from xband.config import default_scenario
from xband.io.recording import RecordingWriter, read_recording

SHORT = os.environ.get("XBAND_BENCH_SHORT") == "1"
_WRITE = {"detections": "write_detections", "tracks": "write_tracks",
          "command": "write_commands", "state": "write_state"}


def demo_recording(path: Path) -> Path:
    """Record one demo run to ``path`` (``xband demo --record PATH``)."""
    from xband.cli import main as cli_main

    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["demo", "--no-plot", "--json", "--out", str(path.parent),
                         "--record", str(path)])
    assert code == 0
    return path


def rewrite(messages, path: Path, loop_only: bool = False) -> tuple[float, int, int]:
    """Write ``messages`` (kind, t, record) as the run loop does (flush after each scan's
    tracks); returns (seconds, frames, bytes). ``loop_only``: the seconds of the writes and
    flushes alone, without creating and closing the file (header, footer, close)."""
    calls = [(getattr(RecordingWriter, _WRITE[m.kind]), m.record, m.t, m.kind == "tracks")
             for m in messages]
    t0 = time.perf_counter()
    w = RecordingWriter(path, {"scenario": "default"}, overwrite=True, fsync=False)
    t1 = time.perf_counter()
    for write, record, t, scan in calls:
        write(w, record, t)
        if scan:
            w.flush()
    w.flush()
    t2 = time.perf_counter()
    w.close()
    return (t2 - t1 if loop_only else time.perf_counter() - t0), w.frames, w.bytes


def write_rate(rec_path: Path, out: Path, rounds: int) -> dict:
    msgs = [m for m in read_recording(rec_path).messages if m.kind in _WRITE]
    scans = sum(m.kind == "tracks" for m in msgs)
    steps = sum(m.kind == "command" for m in msgs)
    best = min(rewrite(msgs, out)[0] for _ in range(rounds))
    _, frames, nbytes = rewrite(msgs, out)
    # the two halves, separately: per guidance step (command + state) and per scan
    g = [m for m in msgs if m.kind in ("command", "state")]
    s = [m for m in msgs if m.kind in ("detections", "tracks")]
    tg = min(rewrite(g, out, True)[0] for _ in range(rounds))
    ts = min(rewrite(s, out, True)[0] for _ in range(rounds))
    return {"messages": len(msgs), "frames": frames, "bytes": nbytes, "seconds": best,
            "frames_per_s": frames / best, "mb_per_s": nbytes / best / 1e6,
            "us_per_guidance_step": 1e6 * tg / max(steps, 1),
            "us_per_scan": 1e6 * ts / max(scans, 1), "scans": scans, "steps": steps}


def demo_share(out: Path, rounds: int) -> dict:
    """The demo run with and without a recorder, alternately, in this process: wall and
    CPU time (``time.process_time``: what this process used, insensitive to other work on
    the machine) of each, and the pipeline's own "record" stage share."""
    sc = default_scenario()
    pipeline.run(sc)                                   # warm-up (imports, plans)
    plain, rec, cpu_plain, cpu_rec, share = [], [], [], [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        pipeline.run(sc)
        plain.append(time.perf_counter() - t0)
        cpu_plain.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        with RecordingWriter(out, {"scenario": "default"}, overwrite=True) as w:
            res = pipeline.run(sc, recorder=w)
        rec.append(time.perf_counter() - t0)
        cpu_rec.append(time.process_time() - c0)
        st = res.stages
        share.append(st["record"]["seconds"] / sum(v["seconds"] for v in st.values()))
    ratios = [r / p for r, p in zip(rec, plain)]
    cpu_ratios = [r / p for r, p in zip(cpu_rec, cpu_plain)]
    return {"rounds": rounds, "plain_s": statistics.median(plain),
            "recorded_s": statistics.median(rec), "ratio_median": statistics.median(ratios),
            "ratios": ratios, "cpu_ratio_median": statistics.median(cpu_ratios),
            "cpu_ratios": cpu_ratios, "record_stage_share": statistics.median(share),
            "record_stage_shares": share}


def replay_speed(rec_path: Path) -> dict:
    from xband.cli import main as cli_main

    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = cli_main(["replay", str(rec_path), "--through", "track", "--json"])
    wall = time.perf_counter() - t0
    doc = json.loads(buf.getvalue())["through"]
    return {"ok": code == 0 and doc["identical"], "scans": doc["scans"],
            "tracker_scans_per_s": doc["scans_per_second"],
            "command_scans_per_s": doc["scans"] / wall}


def sigmf_file(d: Path, n_cpis: int) -> Path:
    from xband.io.sigmf import write_sigmf
    from xband.radar.params import RadarParams
    from xband.radar.scene import synthesize

    p = RadarParams.demo()
    rng = np.random.default_rng(1)
    cube = synthesize(p, 0.0, [[6000.0, 9000.0, 3000.0]], [[-120.0, -230.0, 0.0]], [1.0], rng)
    return write_sigmf(d / "stream", [cube] * n_cpis, p)


def sigmf_read(meta: Path) -> tuple[float, int]:
    from xband.io.sigmf import read_sigmf

    t0 = time.perf_counter()
    rec = read_sigmf(meta)
    n = 0
    for cube in rec:
        n += cube.data.nbytes
    return time.perf_counter() - t0, n


def fromfile_read(meta: Path) -> tuple[float, int]:
    data = meta.with_name(meta.name.replace(".sigmf-meta", ".sigmf-data"))
    t0 = time.perf_counter()
    x = np.fromfile(data, "<c8")
    return time.perf_counter() - t0, x.nbytes


def sigmf_speed(d: Path, n_cpis: int, rounds: int) -> dict:
    meta = sigmf_file(d, n_cpis)
    sigmf_read(meta)                                   # page cache warm for both
    a = min(sigmf_read(meta)[0] for _ in range(rounds))
    b = min(fromfile_read(meta)[0] for _ in range(rounds))
    nbytes = fromfile_read(meta)[1]
    return {"cpis": n_cpis, "mb": nbytes / 1e6, "sigmf_mb_per_s": nbytes / a / 1e6,
            "fromfile_mb_per_s": nbytes / b / 1e6, "ratio": a / b}


def writer_at(rev: str, d: Path):
    """``RecordingWriter`` as it was at git revision ``rev`` (its recording, messages and
    codec modules loaded under private names next to today's), for a before/after
    comparison in one process."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    names = {"codec": ("xband.hil._rev_codec", "src/xband/hil/codec.py"),
             "messages": ("xband.hil._rev_messages", "src/xband/hil/messages.py"),
             "recording": ("xband.io._rev_recording", "src/xband/io/recording.py")}
    mods = {}
    for key in ("codec", "messages", "recording"):
        name, path = names[key]
        src = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"],
                             check=True, capture_output=True, text=True).stdout
        src = (src.replace("from .codec import", "from ._rev_codec import")
                  .replace("from ..hil.codec import", "from ..hil._rev_codec import")
                  .replace("from ..hil.messages import", "from ..hil._rev_messages import"))
        f = d / f"{key}_{rev}.py"
        f.write_text(src)
        spec = importlib.util.spec_from_file_location(name, f)
        mods[key] = importlib.util.module_from_spec(spec)
        sys.modules[name] = mods[key]
        spec.loader.exec_module(mods[key])
    return mods["recording"].RecordingWriter


def before_after(rev: str, d: Path, rounds: int) -> dict:
    """The demo recorded by the writer of ``rev`` and by today's, alternately: the
    "record" stage seconds and share of each, and whether the files are identical."""
    old_writer = writer_at(rev, d)
    sc = default_scenario()
    pipeline.run(sc)
    got = {"before": [], "after": []}
    for _ in range(rounds):
        for key, cls in (("before", old_writer), ("after", RecordingWriter)):
            with cls(d / f"{key}.xrec", {"scenario": "default"}, overwrite=True) as w:
                st = pipeline.run(sc, recorder=w).stages
            got[key].append((st["record"]["seconds"],
                             st["record"]["seconds"] / sum(v["seconds"] for v in st.values())))
    return {"record_s": {k: [a for a, _ in v] for k, v in got.items()},
            "share": {k: [b for _, b in v] for k, v in got.items()},
            "speedup": [a[0] / b[0] for a, b in zip(got["before"], got["after"])],
            "identical": (d / "before.xrec").read_bytes() == (d / "after.xrec").read_bytes()}


def main(rounds: int = 5, before: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rec = demo_recording(d / "demo.xrec")
        w = write_rate(rec, d / "w.xrec", rounds)
        print(f"write at demo rate: {w['frames']} frames ({w['messages']} messages, "
              f"{w['bytes'] / 1e3:.0f} kB) in {1e3 * w['seconds']:.1f} ms: "
              f"{w['frames_per_s']:,.0f} frames/s, {w['mb_per_s']:.1f} MB/s; "
              f"{w['us_per_guidance_step']:.1f} µs per guidance step (command + state), "
              f"{w['us_per_scan']:.1f} µs per scan (detections + tracks + flush)")
        s = demo_share(d / "share.xrec", rounds)
        print(f"demo run: {s['plain_s']:.2f} s without, {s['recorded_s']:.2f} s with the "
              f"recorder (median of {rounds}): wall ratio {s['ratio_median']:.3f} "
              f"(rounds {', '.join(f'{r:.3f}' for r in s['ratios'])}), CPU-time ratio "
              f"{s['cpu_ratio_median']:.3f} "
              f"(rounds {', '.join(f'{r:.3f}' for r in s['cpu_ratios'])}); 'record' stage "
              f"{100 * s['record_stage_share']:.1f} % of the stage time (rounds "
              f"{', '.join(f'{100 * r:.1f}' for r in s['record_stage_shares'])} %)")
        r = replay_speed(rec)
        print(f"replay --through track: {r['scans']} scans, tracker "
              f"{r['tracker_scans_per_s']:.0f} scans/s, whole command "
              f"{r['command_scans_per_s']:.0f} scans/s, identical: {r['ok']}")
        if before:
            b = before_after(before, d, rounds)
            print(f"before ({before}) / after, same process, {rounds} rounds: 'record' stage "
                  f"share {', '.join(f'{100 * x:.1f}' for x in b['share']['before'])} % → "
                  f"{', '.join(f'{100 * x:.1f}' for x in b['share']['after'])} %; "
                  f"record-stage speed-up ×{statistics.median(b['speedup']):.2f} (rounds "
                  f"{', '.join(f'{x:.2f}' for x in b['speedup'])}); files identical: "
                  f"{b['identical']}")
        g = sigmf_speed(d, 32 if SHORT else 128, rounds)
        print(f"SigMF streaming read ({g['cpis']} CPIs, {g['mb']:.0f} MB, page cache): "
              f"{g['sigmf_mb_per_s']:.0f} MB/s CPI by CPI vs numpy.fromfile "
              f"{g['fromfile_mb_per_s']:.0f} MB/s (×{g['ratio']:.2f} the time)")


# ---------------------------------------------------------------- pytest-benchmark
@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    rec = demo_recording(d / "demo.xrec")
    return d, [m for m in read_recording(rec).messages if m.kind in _WRITE]


def test_write_demo_stream(benchmark, recorded):
    d, msgs = recorded
    benchmark.group = "recording write (one demo run's messages)"
    secs, frames, nbytes = rewrite(msgs, d / "b.xrec")
    benchmark.extra_info.update(frames=frames, bytes=nbytes)
    benchmark.pedantic(rewrite, args=(msgs, d / "b.xrec"), rounds=3, iterations=1)


@pytest.mark.parametrize("how", ["sigmf CPI by CPI", "numpy.fromfile"])
def test_sigmf_stream(benchmark, tmp_path, how):
    meta = sigmf_file(tmp_path, 16 if SHORT else 64)
    benchmark.group = "sigmf read"
    benchmark.pedantic(sigmf_read if how.startswith("sigmf") else fromfile_read,
                       args=(meta,), rounds=3, iterations=1)


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5,
         sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None)

"""The HIL link: codec throughput (Python vs compiled COBS), and over a real pty with the
far end in its own process — sustained DETECTIONS throughput at 921 600 and 2 000 000 baud
and round-trip latency at a 1 kHz command rate.

A pty moves bytes at memory speed whatever baud rate is set on it, so the streaming bench
paces the sender to the line rate (10 bits per byte, 8N1) and reports what the host
decoded at that rate with zero loss; the ``unpaced`` row is the host's own ceiling.

    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_hil.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=median,ops,rounds -s
    .venv/bin/python benches/bench_hil.py          # the pty figures as a table, no pytest
    .venv/bin/python benches/bench_hil.py --compare HEAD~1 --rounds 6 [--rt-priority 10]
        # 1 kHz round trips, this tree's link.py vs the one at a git revision, alternated
        # round by round in one run (both ends of the link use the variant under test);
        # with CPU time and voluntary context switches (thread wake-ups) per round trip

On a shared machine the p99 is the scheduler's (runnable threads waiting for a core), so
compare variants only side by side, alternated, never against numbers from another run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tty

import numpy as np
import pytest

from xband import _kernels
from xband.hil.codec import Decoder, Encoder
from xband.hil.messages import Assembler, encode_message
from xband.types import Commands, Detections

SHORT = os.environ.get("XBAND_BENCH_SHORT") == "1"


def _dets(n: int, rng) -> Detections:
    return Detections(t=np.zeros(n), range=rng.uniform(1e3, 3e4, n), az=rng.uniform(-3, 3, n),
                      el=rng.uniform(0, 0.7, n), range_rate=rng.normal(0, 200, n),
                      snr=rng.uniform(10, 1e3, n), R=np.broadcast_to(np.diag([25, 1e-6, 1e-6, 1]),
                                                                       (n, 4, 4)))


CMD = Commands(t=[0.0], a_cmd=[[1.0, -30.0, 2.5]], t_go=[4.2], saturated=[False])


# ------------------------------------------------------------------ codec, in process
@pytest.mark.parametrize("kind", ["cython", "reference"])
@pytest.mark.parametrize("what", ["command", "detections34"])
def test_codec_encode(benchmark, kind, what):
    rng = np.random.default_rng(1)
    rec = CMD if what == "command" else _dets(34, rng)
    before = _kernels._state["mode"]
    _kernels.set_backend(kind)
    try:
        enc = Encoder()
        benchmark.group = f"hil codec: encode one {what} frame"
        benchmark.extra_info["backend"] = kind
        benchmark(encode_message, enc, what.rstrip("0123456789"), rec, 1.0)
    finally:
        _kernels.set_backend(before)


@pytest.mark.parametrize("kind", ["cython", "reference"])
@pytest.mark.parametrize("what", ["command", "detections34"])
def test_codec_decode(benchmark, kind, what):
    rng = np.random.default_rng(1)
    rec = CMD if what == "command" else _dets(34, rng)
    n = 200
    before = _kernels._state["mode"]
    _kernels.set_backend(kind)
    try:
        enc = Encoder()
        wire = b"".join(encode_message(enc, what.rstrip("0123456789"), rec, i * 1e-3)
                        for i in range(n))

        def decode():
            dec, asm = Decoder(), Assembler()
            dec.feed(wire)
            k = 0
            for f in dec:
                k += asm.push(f) is not None
            return k

        benchmark.group = f"hil codec: decode+assemble {n} {what} frames"
        benchmark.extra_info["backend"] = kind
        benchmark.extra_info["frames"] = n
        assert benchmark(decode) == n
    finally:
        _kernels.set_backend(before)


# ------------------------------------------------------------------ over a pty
def load_link(path: str | None = None):
    """xband.hil.link, or the link.py at ``path`` loaded as a module of the xband.hil
    package (so that its relative imports resolve) — the "before" of a comparison."""
    if not path:
        import xband.hil.link as mod
        return mod
    import importlib.util

    name = "xband.hil._link_bench_" + str(abs(hash(path)))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


DEVICE = r"""
import os, sys, time, json
import numpy as np
sys.path[:0] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
sys.path.insert(0, os.environ["XBAND_BENCH_DIR"])
from bench_hil import load_link
_L = load_link(os.environ.get("XBAND_BENCH_LINK"))
FdPort, Link, SENSOR_CAPS = _L.FdPort, _L.Link, _L.SENSOR_CAPS
from xband.hil.messages import Role
from xband.hil.codec import Encoder
from xband.hil.messages import encode_message
from xband.types import Detections, PlantState
mode, fd = sys.argv[1], int(sys.argv[2])
if mode == "stream":
    baud, seconds, per = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    n = per
    rng = np.random.default_rng(2)
    dets = Detections(t=np.zeros(n), range=rng.uniform(1e3, 3e4, n), az=rng.uniform(-3, 3, n),
                      el=rng.uniform(0, 0.7, n), range_rate=rng.normal(0, 200, n),
                      snr=rng.uniform(10, 1e3, n), R=np.broadcast_to(np.eye(4), (n, 4, 4)))
    enc = Encoder()
    os.set_blocking(fd, True)
    t0 = time.monotonic(); sent = 0; k = 0; nbytes = 0
    while time.monotonic() - t0 < seconds:
        data = encode_message(enc, "detections", dets, k * 1e-3)
        k += 1
        os.write(fd, data)
        nbytes += len(data); sent += n
        if baud > 0:                      # pace to the line rate, 10 bits per byte
            due = t0 + nbytes * 10.0 / baud
            d = due - time.monotonic()
            if d > 0: time.sleep(d)
    os.write(fd, encode_message(enc, "meta", {"end": True, "sent": sent, "messages": k}, 0.0))
    time.sleep(0.5)
else:                                     # echo: answer each COMMAND with a STATE at its t
    link = Link(FdPort(fd), role=Role.SENSOR, name="bench-echo", capabilities=SENSOR_CAPS,
                reconnect=False).open()
    link.wait_session(10)
    import resource
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    st = PlantState(t=[0, 0], body_id=[0, 1], pos=np.zeros((2, 3)), vel=np.zeros((2, 3)),
                    acc=np.zeros((2, 3)))
    while True:
        it = link.recv(timeout=5.0)
        if it is None or it.kind == "close":
            break
        if it.kind == "command":
            link.send("state", st, it.t)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    link.close(send_close=False)
    print(json.dumps({"cpu_s": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime,
                      "nvcsw": ru1.ru_nvcsw - ru0.ru_nvcsw}), flush=True)
"""


def _pty():
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def stream(baud: int, seconds: float = 2.0, per: int = 34) -> dict:
    """The device streams DETECTIONS messages of ``per`` detections at the line rate of
    ``baud`` (0: unpaced); the host (pySerial on the pty slave) decodes them."""
    import serial

    master, slave, path = _pty()
    ser = serial.Serial(path, baudrate=baud or 2_000_000, timeout=0.05)
    env = dict(os.environ, XBAND_BENCH_DIR=os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", DEVICE, "stream", str(master), str(baud),
                             str(seconds), str(per)], pass_fds=(master,), env=env)
    os.close(master)
    dec, asm = Decoder(), Assembler()
    got = msgs = 0
    t_first = t_last = None
    end = None
    deadline = time.monotonic() + seconds + 20
    while end is None and time.monotonic() < deadline:
        data = ser.read(max(1, ser.in_waiting))
        if not data:
            continue
        dec.feed(data)
        for f in dec:
            m = asm.push(f)
            if m is None:
                continue
            if m.kind == "detections":
                now = time.monotonic()
                t_first = t_first or now
                t_last = now
                got += len(m.record)
                msgs += 1
            elif m.kind == "meta":
                end = m.record
    proc.wait(timeout=10)
    ser.close()
    os.close(slave)
    s = dec.stats
    dt = (t_last - t_first) if t_first and t_last and t_last > t_first else float("nan")
    return {"baud": baud, "detections_per_message": per, "sent": end and end["sent"],
            "received": got, "lost": (end["sent"] - got) if end else None,
            "detections_per_s": got / dt if dt == dt else float("nan"),
            "crc_errors": s.crc_errors, "seq_gaps": s.seq_gaps}


def command_rtt(rate_hz: float = 1000.0, seconds: float = 3.0, baud: int = 2_000_000,
                link_path: str | None = None) -> dict:
    """The host sends COMMAND at ``rate_hz`` over the pty to a device in its own process,
    which answers each with a STATE of the same t: round trip per command. ``link_path``:
    another link.py for both ends (see :func:`compare`)."""
    L = load_link(link_path)
    Link = L.Link
    from xband.hil.link import rtt_summary

    master, slave, path = _pty()
    env = dict(os.environ, XBAND_BENCH_DIR=os.path.dirname(os.path.abspath(__file__)))
    if link_path:
        env["XBAND_BENCH_LINK"] = link_path
    else:
        env.pop("XBAND_BENCH_LINK", None)
    proc = subprocess.Popen([sys.executable, "-c", DEVICE, "echo", str(master)],
                            pass_fds=(master,), env=env, stdout=subprocess.PIPE, text=True)
    os.close(master)
    link = Link(path, baudrate=baud).open()
    link.wait_session(20)
    import resource
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    sent_at: dict[int, float] = {}
    rtts = []
    n = int(rate_hz * seconds)
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate_hz
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            it = link.recv(timeout=left)
            if it is not None and it.kind == "state":
                k = round(it.t * 1e6)
                if k in sent_at:
                    rtts.append(time.monotonic() - sent_at.pop(k))
        sent_at[i] = time.monotonic()
        link.send("command", CMD, i * 1e-6)
    end = time.monotonic() + 1.0
    while sent_at and time.monotonic() < end:
        it = link.recv(timeout=0.05)
        if it is not None and it.kind == "state":
            k = round(it.t * 1e6)
            if k in sent_at:
                rtts.append(time.monotonic() - sent_at.pop(k))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    stats = link.stats()
    link.close()
    dev_out, _ = proc.communicate(timeout=10)
    os.close(slave)
    try:
        dev = json.loads(dev_out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        dev = {"cpu_s": float("nan"), "nvcsw": float("nan")}
    out = {"rate_hz": rate_hz, "commands": n, "answered": len(rtts), "lost": len(sent_at)}
    # load-independent costs per round trip: CPU time and voluntary context switches
    # (each one a thread going to sleep, i.e. a wake-up needed later), host and device
    out["host_cpu_us_per_cmd"] = 1e6 * (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime
                                        - ru0.ru_stime) / n
    out["host_switches_per_cmd"] = (ru1.ru_nvcsw - ru0.ru_nvcsw) / n
    out["device_cpu_us_per_cmd"] = 1e6 * dev["cpu_s"] / n
    out["device_switches_per_cmd"] = dev["nvcsw"] / n
    out.update(rtt_summary(rtts))
    out["heartbeat_rtt_p50_s"] = stats["rtt_p50_s"]
    out["heartbeat_rtt_p99_s"] = stats["rtt_p99_s"]
    return out


@pytest.mark.parametrize("baud", [921_600, 2_000_000, 0])
def test_pty_stream_detections(benchmark, baud):
    res = benchmark.pedantic(stream, args=(baud, 1.0 if SHORT else 2.0), rounds=1, iterations=1)
    benchmark.group = "hil pty: sustained DETECTIONS (34 per message)"
    benchmark.extra_info.update(res)
    print(json.dumps(res))
    assert res["lost"] == 0 and res["crc_errors"] == 0


def test_pty_1khz_command_rtt(benchmark):
    res = benchmark.pedantic(command_rtt, args=(1000.0, 1.0 if SHORT else 3.0), rounds=1,
                             iterations=1)
    benchmark.group = "hil pty: 1 kHz COMMAND → STATE round trip"
    benchmark.extra_info.update(res)
    print(json.dumps(res))
    assert res["lost"] == 0


def compare(rev: str = "HEAD", rounds: int = 6, seconds: float = 1.0,
            rate_hz: float = 1000.0) -> dict:
    """1 kHz COMMAND → STATE round trips with this tree's link.py ("after") and the one at
    git revision ``rev`` ("before"), alternated round by round in this one process so that
    both see the same machine load; per variant the median over rounds of each round's
    p50 / p99, and the p50 / p99 of all round trips pooled."""
    import tempfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    old = subprocess.run(["git", "show", f"{rev}:src/xband/hil/link.py"], cwd=root,
                         capture_output=True, check=True).stdout
    tmp = tempfile.NamedTemporaryFile("wb", suffix="_link.py", delete=False)
    tmp.write(old)
    tmp.close()
    res = {"before": [], "after": []}
    try:
        for i in range(rounds):
            order = (("before", tmp.name), ("after", None))
            for name, path in (order if i % 2 == 0 else order[::-1]):
                res[name].append(command_rtt(rate_hz, seconds, link_path=path))
    finally:
        os.unlink(tmp.name)
    out = {"rev": rev, "rounds": rounds, "seconds_per_round": seconds, "rate_hz": rate_hz}
    for name, runs in res.items():
        out[name] = {
            "median_p50_ms": 1e3 * float(np.median([r["rtt_p50_s"] for r in runs])),
            "median_p99_ms": 1e3 * float(np.median([r["rtt_p99_s"] for r in runs])),
            "best_p99_ms": 1e3 * float(min(r["rtt_p99_s"] for r in runs)),
            "lost": int(sum(r["lost"] for r in runs)),
            "switches_per_cmd": float(np.median([r["host_switches_per_cmd"]
                                                 + r["device_switches_per_cmd"] for r in runs])),
            "cpu_us_per_cmd": float(np.median([r["host_cpu_us_per_cmd"]
                                               + r["device_cpu_us_per_cmd"] for r in runs])),
            "p99_ms_per_round": [round(1e3 * r["rtt_p99_s"], 3) for r in runs]}
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", metavar="REV", help="before/after round trips vs REV's link.py")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=1000.0, help="command rate (Hz)")
    ap.add_argument("--rt-priority", type=int, metavar="N",
                    help="SCHED_FIFO priority N for this process and the device's (as "
                         "`xband hil --rt-priority`): takes the machine's load out of the tail")
    a = ap.parse_args()
    if a.rt_priority:
        from xband.commands.hil import set_realtime

        set_realtime(a.rt_priority)
    if a.compare:
        print(json.dumps(compare(a.compare, a.rounds, a.seconds, a.rate), indent=1))
    else:
        for b in (921_600, 2_000_000, 0):
            print(json.dumps(stream(b)))
        print(json.dumps(command_rtt()))

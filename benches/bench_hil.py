"""The HIL link: codec throughput (Python vs compiled COBS), and over a real pty with the
far end in its own process — sustained DETECTIONS throughput at 921 600 and 2 000 000 baud
and round-trip latency at a 1 kHz command rate.

A pty moves bytes at memory speed whatever baud rate is set on it, so the streaming bench
paces the sender to the line rate (10 bits per byte, 8N1) and reports what the host
decoded at that rate with zero loss; the ``unpaced`` row is the host's own ceiling.

    XBAND_KERNELS=cython .venv/bin/python -m pytest benches/bench_hil.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=median,ops,rounds -s
    .venv/bin/python benches/bench_hil.py          # the pty figures as a table, no pytest
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
DEVICE = r"""
import os, sys, time, json
import numpy as np
sys.path[:0] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
from xband.hil.link import FdPort, Link, SENSOR_CAPS
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
    st = PlantState(t=[0, 0], body_id=[0, 1], pos=np.zeros((2, 3)), vel=np.zeros((2, 3)),
                    acc=np.zeros((2, 3)))
    while True:
        it = link.recv(timeout=5.0)
        if it is None or it.kind == "close":
            break
        if it.kind == "command":
            link.send("state", st, it.t)
    link.close(send_close=False)
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
    proc = subprocess.Popen([sys.executable, "-c", DEVICE, "stream", str(master), str(baud),
                             str(seconds), str(per)], pass_fds=(master,))
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


def command_rtt(rate_hz: float = 1000.0, seconds: float = 3.0, baud: int = 2_000_000) -> dict:
    """The host sends COMMAND at ``rate_hz`` over the pty to a device in its own process,
    which answers each with a STATE of the same t: round trip per command."""
    from xband.hil.link import Link, rtt_summary

    master, slave, path = _pty()
    proc = subprocess.Popen([sys.executable, "-c", DEVICE, "echo", str(master)],
                            pass_fds=(master,))
    os.close(master)
    link = Link(path, baudrate=baud).open()
    link.wait_session(20)
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
    stats = link.stats()
    link.close()
    proc.wait(timeout=10)
    os.close(slave)
    out = {"rate_hz": rate_hz, "commands": n, "answered": len(rtts), "lost": len(sent_at)}
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


if __name__ == "__main__":
    for b in (921_600, 2_000_000, 0):
        print(json.dumps(stream(b)))
    print(json.dumps(command_rtt()))

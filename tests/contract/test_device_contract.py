"""One contract suite for every SENSOR device that speaks hil/PROTOCOL.md, run on:

* ``emulator-pty`` — the Python device emulator in its own process, over a pty;
* ``emulator-socket`` — the same over ``socket://``;
* ``firmware-pty`` — the C99 firmware (hil/firmware), built for the host with its POSIX
  board entry point (board/posix/device_pty.c), over a pty;
* ``hardware`` — opt-in: a real board at ``pytest --hil=URL`` (e.g. ``/dev/ttyACM0``)
  running the firmware of hil/firmware/board/.

The contract: a HELLO with the SENSOR role and coherent capabilities; heartbeats that
echo ours (RTT measured); per event DETECTIONS then STATE with bodies 0 and 1 at the same
non-decreasing ``t``; a COMMAND answer per event keeps it going; the run ends with META
``{"result": …}``, STATS and ERROR CLOSE; and nothing on the link was damaged or lost.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xband.config import default_scenario, parse_scenario
from xband.hil.link import Link
from xband.hil.loop import run_hil
from xband.hil.messages import Cap, Role

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "hil" / "firmware"
BACKENDS = ["emulator-pty", "emulator-socket", "firmware-pty", "hardware"]


def _short(duration: float):
    text = default_scenario().text.replace("duration_s = 30.0", f"duration_s = {duration}")
    return parse_scenario(text, "<contract>"), text


def _spawn(cmd: list[str]):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line


@pytest.fixture(params=BACKENDS)
def device(request, tmp_path):
    """(url, scenario the host runs, process or None)."""
    kind = request.param
    proc = None
    if kind == "hardware":
        url = request.config.getoption("--hil")
        if not url:
            pytest.skip("real hardware: pass --hil=URL")
        yield url, default_scenario()
        return
    if kind.startswith("emulator"):
        sc, text = _short(2.0)
        f = tmp_path / "sc.toml"
        f.write_text(text)
        cmd = [sys.executable, "-m", "xband.hil.emulator", "--scenario", str(f), "--speed", "0"]
        if kind == "emulator-socket":
            cmd += ["--listen", "127.0.0.1:0"]
        proc, line = _spawn(cmd)
        url = json.loads(line)["link"]
    else:
        cc = shutil.which("gcc") or shutil.which("cc")
        if cc is None:
            pytest.skip("no host C compiler")
        exe = tmp_path / "xband-device"
        subprocess.run([cc, "-std=c99", "-O2", f"-I{FW / 'src'}",
                        *[str(p) for p in sorted((FW / "src").glob("*.c"))],
                        str(FW / "board" / "posix" / "device_pty.c"), "-o", str(exe), "-lm"],
                       check=True, capture_output=True, timeout=120)
        proc, line = _spawn([str(exe), "--speed", "20", "--seconds", "60"])
        url = line.strip()
        sc = default_scenario()
    try:
        yield url, sc
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_sensor_device_contract(device):
    url, sc = device
    seen = []
    link = Link(url, tap=None)
    link.open()
    try:
        peer = link.wait_session(10.0)
        assert peer.role == Role.SENSOR
        caps = int(peer.capabilities)
        assert caps & Cap.RX_COMMAND and caps & (Cap.TX_DETECTIONS | Cap.TX_STATE)
        assert 256 <= peer.max_payload <= 4096 and peer.min_version <= 1 <= peer.max_version
        orig = link.recv

        def spy(timeout=None):
            item = orig(timeout)
            if item is not None and item.kind in ("detections", "state", "meta"):
                seen.append((item.kind, item.t, item.record))
            return item

        link.recv = spy
        res = run_hil(sc, link, session_timeout_s=10.0, silence_timeout_s=10.0)
    finally:
        link.close()
    stats = link.stats()
    # the event stream: DETECTIONS then STATE at the same, non-decreasing t
    states = [(t, r) for k, t, r in seen if k == "state"]
    assert len(states) >= 10
    ts = [t for t, _ in states]
    assert all(b >= a for a, b in zip(ts, ts[1:]))
    for t, st in states:
        assert sorted(st.body_id.tolist())[:2] == [0, 1] and np.all(np.isfinite(st.pos))
    if int(peer.capabilities) & Cap.TX_DETECTIONS:
        for i, (k, t, r) in enumerate(seen[:-1]):
            if k == "detections":
                assert seen[i + 1][0] == "state" and seen[i + 1][1] == t
    # the end: the result, the peer's STATS, the CLOSE
    assert res.run.status in ("intercept", "timeout")
    assert np.isfinite(res.run.miss_distance_m)
    assert link.peer_stats is not None and link.closed_by_peer
    assert res.host["events"] == len(states) and res.run.summary["scans"] > 0
    # nothing damaged or lost, and the heartbeats measured the round trip
    for k in ("crc_errors", "cobs_errors", "seq_gaps", "rx_dropped", "tx_dropped",
              "incomplete_messages", "bad_payloads", "disconnects"):
        assert stats[k] == 0, k
    assert stats["rtt_samples"] >= 1 and stats["rtt_p50_s"] > 0

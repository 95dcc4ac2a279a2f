"""End to end over a real pseudo-terminal: ``xband hil --emulate`` (host + the device
emulator in its own process), as a user runs it. The loop closes; with no added latency
the miss distance is the pure simulation's, bit for bit; with latency and 1 % corrupted
frames it completes and reports the losses; an unplug is reported, the host reconnects
and nothing already received is lost. No timing is asserted, only completion and counts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from xband import pipeline
from xband.config import default_scenario, load_scenario
from xband.io.recording import read_recording

ROOT = Path(__file__).resolve().parents[2]


def xband(*args, cwd=None, timeout=120):
    p = subprocess.run([sys.executable, "-m", "xband.cli", *args], capture_output=True,
                       text=True, cwd=cwd, env=dict(os.environ), timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def short_scenario(tmp_path, duration: float) -> Path:
    text = default_scenario().text.replace("duration_s = 30.0", f"duration_s = {duration}")
    assert f"duration_s = {duration}" in text
    f = tmp_path / "short.toml"
    f.write_text(text)
    return f


def test_emulated_run_equals_the_pure_simulation_and_records(tmp_path):
    rec = tmp_path / "hil.xrec"
    doc = json.loads(xband("hil", "--emulate", "--speed", "0", "--json", "--record", str(rec),
                           cwd=tmp_path).stdout)
    sim = pipeline.run(default_scenario())
    assert doc["status"] == sim.status == "intercept"
    assert doc["miss_distance_m"] == sim.miss_distance_m           # bit for bit
    assert doc["t_closest_s"] == sim.t_closest_s
    for k in ("scans", "commands", "detections", "tracks_confirmed", "designated_track"):
        assert doc[k] == sim.summary[k], k
    for k in ("miss_distance_m", "frames_sent", "frames_received", "crc_errors", "seq_gaps",
              "rtt_p50_s", "rtt_p99_s", "deadline_misses"):
        assert k in doc, k
    assert doc["frames_sent"] > 1000 and doc["frames_received"] > 1000
    assert doc["crc_errors"] == doc["seq_gaps"] == doc["deadline_misses"] == 0
    assert doc["disconnects"] == 0 and doc["link"]["rx_dropped"] == 0
    assert doc["device"]["events"] == doc["host"]["events"]
    r = read_recording(rec)
    assert r.complete and r.integrity.ok and r.header["hil"]["emulated"] is True
    assert len(r.detections()) == sim.summary["scans"]
    assert len(r.commands()) == sim.summary["commands"]
    assert r.footer["miss_distance_m"] == sim.miss_distance_m


def test_text_summary_over_a_socket_and_no_record(tmp_path):
    f = short_scenario(tmp_path, 1.0)
    out = xband("hil", "--emulate", "--socket", "--scenario", str(f), "--speed", "0",
                "--no-record", cwd=tmp_path).stdout
    for words in ("socket://127.0.0.1:", "miss distance", "frames sent", "CRC errors", "RTT",
                  "deadline misses"):
        assert words in out
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".xrec"]


def test_bad_flags_are_one_line_errors(tmp_path):
    p = subprocess.run([sys.executable, "-m", "xband.cli", "hil", "--serial", "loop://",
                        "--unplug-at", "1"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("xband: error: --unplug-at: only with")
    p = subprocess.run([sys.executable, "-m", "xband.cli", "hil", "--serial",
                        "/dev/does-not-exist-xband", "--no-record"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "cannot open" in p.stderr
    try:
        import SoapySDR  # noqa: F401
    except ImportError:
        p = subprocess.run([sys.executable, "-m", "xband.cli", "hil", "--sdr", "driver=none"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "system-site-packages" in p.stderr


def test_latency_and_one_percent_corruption_complete_and_report_losses(tmp_path):
    f = short_scenario(tmp_path, 3.0)
    doc = json.loads(xband("hil", "--emulate", "--scenario", str(f), "--latency-ms", "2",
                           "--corrupt", "0.01", "--json", "--no-record", cwd=tmp_path).stdout)
    assert doc["status"] == "timeout"                         # 3 s: the loop completed
    dev, lk = doc["device"], doc["link"]
    assert dev["frames_corrupted"] >= 1
    damaged = lk["crc_errors"] + lk["cobs_errors"] + lk["truncated"] + lk["length_errors"]
    assert damaged >= dev["frames_corrupted"]                 # every corrupted frame counted
    assert doc["crc_errors"] == lk["crc_errors"] and doc["seq_gaps"] >= 1
    assert doc["deadline_misses"] == dev["deadline_misses"] >= dev["commands_lost"]
    assert doc["host"]["events"] + dev["commands_lost"] >= dev["events"] - damaged


def test_unplug_is_reported_and_the_host_reconnects_without_losing_data(tmp_path):
    f = short_scenario(tmp_path, 4.0)
    sc = load_scenario(f)
    doc = json.loads(xband("hil", "--emulate", "--scenario", str(f), "--speed", "0",
                           "--unplug-at", "2.0", "--unplug-for", "0.3", "--json",
                           "--no-record", cwd=tmp_path).stdout)
    assert doc["disconnects"] == 1 and doc["reconnects"] >= 1
    assert doc["host"]["link_down"] == 1 and doc["device"]["unplugs"] == 1
    # every event the device sent was received and answered: nothing was lost
    assert doc["host"]["events"] == doc["device"]["events"] == doc["device"]["commands_in_time"]
    assert doc["link"]["rx_dropped"] == 0
    sim = pipeline.run(sc)
    assert doc["miss_distance_m"] == sim.miss_distance_m

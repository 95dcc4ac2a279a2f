"""``xband hil``: track + guide on the host against a device, over a real serial stack.

``--serial URL`` talks to a board (or anything speaking hil/PROTOCOL.md) at a pySerial URL;
``--emulate`` starts the device emulator (``python -m xband.hil.emulator``, a separate
process) on a pseudo-terminal pair — or a TCP socket with ``--socket`` — and runs the
identical host code against it. Prints a summary, or one JSON object with ``--json``;
records the run like ``xband demo`` (``--record PATH``, ``--no-record``).
"""
from __future__ import annotations

import argparse

NAME = "hil"
HELP = "run track + guide in the loop with a serial device or the device emulator"
ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--serial", metavar="URL",
                     help="device at a pySerial URL: /dev/ttyACM0, socket://host:port, "
                          "rfc2217://host:port, …")
    src.add_argument("--emulate", action="store_true",
                     help="start the device emulator on a pty pair and run against it")
    src.add_argument("--sdr", metavar="ARGS",
                     help="stream CPIs from a SoapySDR device (e.g. driver=rtlsdr) and report "
                          "the I/Q source's accounting (overflows, timestamp gaps, power)")
    p.add_argument("--center-hz", type=float, default=1e9, help="with --sdr: RX frequency")
    p.add_argument("--rate-hz", type=float, default=2.048e6, help="with --sdr: sample rate")
    p.add_argument("--gain-db", type=float, help="with --sdr: RX gain")
    p.add_argument("--pulses", type=int, default=64, help="with --sdr: pulses per CPI")
    p.add_argument("--samples", type=int, default=1024, help="with --sdr: samples per PRI")
    p.add_argument("--cpis", type=int, default=20, help="with --sdr: CPIs to read")
    p.add_argument("--scenario", metavar="TOML", help="scenario file (default: the demo's)")
    p.add_argument("--seed", type=int, help="override [scenario] seed")
    p.add_argument("--baud", type=int, default=921600,
                   help="serial baud rate (default %(default)s)")
    p.add_argument("--socket", action="store_true",
                   help="with --emulate: connect over a TCP socket instead of a pty")
    p.add_argument("--speed", type=float, default=1.0,
                   help="with --emulate: scenario s per wall s; 0 = unpaced lockstep (default 1)")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="with --emulate: added one-way latency of the device's frames")
    p.add_argument("--corrupt", type=float, default=0.0,
                   help="with --emulate: fraction of the device's messages corrupted (0.01 = 1 %%)")
    p.add_argument("--unplug-at", type=float, metavar="T",
                   help="with --emulate: unplug the device at scenario time T (s)")
    p.add_argument("--unplug-for", type=float, default=0.5, metavar="S",
                   help="with --emulate: how long it stays unplugged (default %(default)s s)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the device's HELLO (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--out", metavar="DIR", default="xband-out",
                   help="directory for the recording (default: %(default)s)")
    p.add_argument("--record", metavar="PATH", help="recording path (default: DIR/NAME-hil.xrec)")
    p.add_argument("--no-record", action="store_true", help="do not write a recording")


def _emulator_cmd(args, sc_path: str | None, link_path: str | None) -> list[str]:
    import sys

    cmd = [sys.executable, "-m", "xband.hil.emulator", "--speed", str(args.speed),
           "--latency-s", str(args.latency_ms / 1e3), "--corrupt", str(args.corrupt),
           "--session-timeout", str(max(args.timeout, 5.0))]
    if sc_path:
        cmd += ["--scenario", sc_path]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.socket:
        cmd += ["--listen", "127.0.0.1:0"]
    elif link_path:
        cmd += ["--link-path", link_path]
    if args.unplug_at is not None:
        cmd += ["--unplug-at", str(args.unplug_at), "--unplug-for", str(args.unplug_for)]
    return cmd


def _run_sdr(args) -> int:
    import numpy as np

    from ..cli import print_json
    from ..hil.iq import CpiShape, SoapySource

    shape = CpiShape(channels=("sum",), pulses=args.pulses, samples=args.samples,
                     sample_rate_hz=args.rate_hz)
    power = []
    with SoapySource(args.sdr, shape, center_hz=args.center_hz, gain_db=args.gain_db) as src:
        for cube in src:
            power.append(float(np.mean(np.abs(cube.data) ** 2)))
            if len(power) >= args.cpis:
                break
        stats = dict(src.stats)
    doc = {"sdr": args.sdr, "center_hz": args.center_hz, "sample_rate_hz": args.rate_hz,
           "cpi_duration_s": shape.duration_s, **stats,
           "mean_power_db": float(10 * np.log10(np.mean(power))) if power else None}
    if args.json:
        print_json(doc)
    else:
        print(f"xband hil --sdr {args.sdr}: {stats['cpis']} CPIs of {shape.pulses}×"
              f"{shape.samples} samples at {args.rate_hz:g} S/s; overflows "
              f"{stats['overflows']}, timestamp gaps {stats['timestamp_gaps']}, dropped CPIs "
              f"{stats['dropped_cpis']}, mean power {doc['mean_power_db']} dBFS²")
    return 0


def run(args) -> int:
    if args.sdr:
        return _run_sdr(args)
    import json
    import subprocess
    import tempfile
    import time
    from dataclasses import replace
    from pathlib import Path

    from .. import _kernels
    from ..cli import _header, print_json
    from ..config import default_scenario, load_scenario
    from ..errors import ConfigError, HardwareError
    for flag in ("socket", "unplug_at"):
        if getattr(args, flag) not in (None, False) and not args.emulate:
            raise ConfigError(f"--{flag.replace('_', '-')}: only with --emulate")
    if args.corrupt and not 0.0 <= args.corrupt < 1.0:
        raise ConfigError(f"--corrupt: must be in [0, 1), got {args.corrupt}")
    sc = load_scenario(args.scenario) if args.scenario else default_scenario()
    if args.seed is not None:
        if args.seed < 0:
            raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
        sc = replace(sc, scenario=replace(sc.scenario, seed=args.seed))
    backend = _kernels.backend()
    name = sc.scenario.name
    rec_path = None if args.no_record else Path(args.record or Path(args.out) / f"{name}-hil.xrec")
    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="xband-hil-")
    try:
        if args.emulate:
            sc_path = str(Path(args.scenario).resolve()) if args.scenario else None
            link_path = str(Path(tmp.name) / "ttyXBAND0")
            proc = subprocess.Popen(_emulator_cmd(args, sc_path, link_path),
                                    stdout=subprocess.PIPE, text=True)
            line = proc.stdout.readline()
            try:
                info = json.loads(line)
            except ValueError:
                raise HardwareError(f"device emulator did not start (said {line!r})") from None
            if "error" in info:
                raise HardwareError(f"device emulator: {info['error']}")
            url = info["link"]
        else:
            url = args.serial
        from ..hil.link import Link          # heavy imports while the emulator starts
        from ..hil.loop import run_hil

        link = Link(url, baudrate=args.baud)
        link.open()                              # a port that does not open: no recording
        recorder = None
        try:
            if rec_path is not None:
                from ..io.recording import RecordingWriter

                rec_path.parent.mkdir(parents=True, exist_ok=True)
                header = _header(sc, backend, ["hil"])
                header["hil"] = {"url": url, "emulated": bool(args.emulate), "baud": args.baud}
                recorder = RecordingWriter(rec_path, header, overwrite=True)
            t0 = time.perf_counter()
            try:
                res = run_hil(sc, link, recorder=recorder, session_timeout_s=args.timeout)
            finally:
                link.close(send_close=True)
        except BaseException as exc:
            if recorder is not None:
                recorder.abort(f"{type(exc).__name__}: {exc}")
            link.close(send_close=False)
            raise
        wall = time.perf_counter() - t0
        res.link = link.stats()                       # final counters, close included
        doc = res.to_json()
        if recorder is not None:
            recorder.close({"end": True, "status": res.run.status,
                            "miss_distance_m": res.run.miss_distance_m,
                            "t_closest_s": res.run.t_closest_s,
                            "link": {k: doc[k] for k in ("frames_sent", "frames_received",
                                                         "crc_errors", "seq_gaps",
                                                         "deadline_misses")}})
        doc.update(wall_seconds=wall, url=url, emulated=bool(args.emulate),
                   outputs={"recording": str(rec_path) if rec_path else None})
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        tmp.cleanup()
    if args.json:
        print_json(doc)
        return 0
    d = doc
    print(f"xband hil — scenario '{name}', seed {sc.scenario.seed}, device "
          f"{'emulator at ' if args.emulate else ''}{url}, kernels: {backend}")
    print(f"  result    : {d['status']}; miss distance {d['miss_distance_m']:.3f} m at "
          f"t = {d['t_closest_s']:.4f} s")
    print(f"  loop      : {d['host']['events']} events, {d['scans']} scans, {d['commands']} "
          f"commands; deadline misses {d['deadline_misses']} (host late replies "
          f"{d['host_late_replies']})")
    print(f"  link      : {d['frames_sent']} frames sent, {d['frames_received']} received; "
          f"CRC errors {d['crc_errors']}, COBS errors {d['cobs_errors']}, seq gaps "
          f"{d['seq_gaps']}; disconnects {d['disconnects']}, reconnects {d['reconnects']}")
    ms = lambda v: "n/a" if v != v else f"{1e3 * v:.3f} ms"  # noqa: E731
    print(f"  RTT       : p50 {ms(d['rtt_p50_s'])}, p99 {ms(d['rtt_p99_s'])}, jitter "
          f"{ms(d['jitter_s'])} ({d['link']['rtt_samples']} heartbeats)")
    dev = d["device"]
    if "event_rtt_p50_s" in dev:
        print(f"  device    : event → command p50 {ms(dev['event_rtt_p50_s'])}, p99 "
              f"{ms(dev['event_rtt_p99_s'])}; frames corrupted {dev.get('frames_corrupted', 0)}")
    print(f"  wall time : {wall:.3f} s for {d['t_closest_s']:.2f} s simulated")
    if rec_path:
        print(f"  wrote recording: {rec_path}")
    return 0

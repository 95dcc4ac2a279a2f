"""``xband hil``: track + guide on the host against a device, over a real serial stack.

``--serial URL`` talks to a board (or anything speaking hil/PROTOCOL.md) at a pySerial URL;
``--emulate`` starts the device emulator (``python -m xband.hil.emulator``, a separate
process) on a pseudo-terminal pair — or a TCP socket with ``--socket`` — and runs the
identical host code against it. Prints a summary, or one JSON object with ``--json``;
records the run like ``xband demo`` (``--record PATH``, ``--no-record``).

``--sdr ARGS`` runs the receive side instead: CPIs from an I/Q source (xband.hil.iq.open_sdr:
SoapySDR, PlutoSDR through pyadi-iio, a GNU Radio ZMQ PUB sink, or a SigMF replay) through
the detection chain and the tracker, with per-CPI timing, the source's overflow / gap
accounting and the detections and tracks in the summary and the JSON.
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
                     help="stream CPIs from an I/Q source through detection and tracking: a "
                          "SoapySDR device (driver=rtlsdr, …), a PlutoSDR via pyadi-iio "
                          "(driver=pluto,uri=ip:192.168.2.1), GNU Radio ZMQ PUB "
                          "(tcp://host:port) or a SigMF replay (FILE.sigmf-meta)")
    p.add_argument("--center-hz", type=float, default=1e9, help="with --sdr: RX frequency")
    p.add_argument("--rate-hz", type=float, default=2.048e6, help="with --sdr: sample rate")
    p.add_argument("--gain-db", type=float, help="with --sdr: RX gain")
    p.add_argument("--pulses", type=int, default=64, help="with --sdr: pulses per CPI")
    p.add_argument("--samples", type=int, default=1024, help="with --sdr: samples per PRI")
    p.add_argument("--cpis", type=int, default=20, help="with --sdr: CPIs to read (at most)")
    p.add_argument("--channels", default="sum",
                   help="with --sdr: CPI channel names, one RX channel each (default sum; "
                        "sum,daz,del for a monopulse receiver)")
    p.add_argument("--pulse-us", type=float, default=10.0,
                   help="with --sdr: transmitted LFM pulse width in µs (default %(default)s)")
    p.add_argument("--bandwidth-hz", type=float,
                   help="with --sdr: LFM sweep bandwidth (default 0.8 × --rate-hz)")
    p.add_argument("--tx", action="store_true",
                   help="with --sdr: transmit the pulse train first (PlutoSDR: one PRI as a "
                        "cyclic buffer; SoapySDR: one CPI as a burst)")
    p.add_argument("--pfa", type=float, default=1e-6,
                   help="with --sdr: CFAR false-alarm probability (default %(default)g)")
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
    p.add_argument("--rt-priority", type=int, metavar="N",
                   help="run the host (and the emulator it starts) under SCHED_FIFO priority N "
                        "(1-99; Linux, needs CAP_SYS_NICE or `ulimit -r`): keeps the link's "
                        "round trips off a loaded machine's run queue")
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


def _sdr_params(args):
    """RadarParams of a live SDR from the flags: fs, PRF = fs / samples per PRI, pulses per
    CPI, the RX centre as carrier, an LFM of ``--pulse-us`` and ``--bandwidth-hz``."""
    from ..errors import ConfigError
    from ..radar.params import RadarParams

    for flag in ("pulses", "samples", "cpis"):
        if getattr(args, flag) < (2 if flag == "pulses" else 1):
            raise ConfigError(f"--{flag}: too small ({getattr(args, flag)})")
    if not args.rate_hz > 0:
        raise ConfigError(f"--rate-hz: must be > 0, got {args.rate_hz}")
    bw = args.bandwidth_hz if args.bandwidth_hz is not None else 0.8 * args.rate_hz
    return RadarParams(sample_rate_hz=args.rate_hz, prf_hz=args.rate_hz / args.samples,
                       pulses_per_cpi=args.pulses, carrier_hz=args.center_hz,
                       pulse_width_s=args.pulse_us * 1e-6, bandwidth_hz=bw)


def _beam_angles(dets, pointing, params):
    """A sum-only receiver has no monopulse: its detections' angles are NaN. The tracker
    needs a 3-D position, so they become the beam's pointing with the variance of a
    uniform spread over the beamwidth (bw²/12) — the beam-limited angle measurement."""
    import numpy as np

    bad_az, bad_el = ~np.isfinite(dets.az), ~np.isfinite(dets.el)
    if not (bad_az.any() or bad_el.any()):
        return dets
    az, el, R = dets.az.copy(), dets.el.copy(), dets.R.copy()
    az[bad_az], el[bad_el] = pointing[0], pointing[1]
    R[bad_az, 1, :] = R[bad_az, :, 1] = 0.0
    R[bad_el, 2, :] = R[bad_el, :, 2] = 0.0
    R[bad_az, 1, 1] = params.beamwidth_az_rad ** 2 / 12
    R[bad_el, 2, 2] = params.beamwidth_el_rad ** 2 / 12
    return type(dets)(t=dets.t, range=dets.range, az=az, el=el, range_rate=dets.range_rate,
                      snr=dets.snr, R=R)


def _pcts(values) -> dict:
    import numpy as np

    a = np.asarray(values, float)
    if a.size == 0:
        return {"p50": None, "p99": None, "max": None, "mean": None}
    p50, p99 = np.percentile(a, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(a.max()),
            "mean": float(a.mean())}


def _track_rows(tracks) -> list[dict]:
    """Confirmed tracks at the last scan: id, t, range and range rate from the radar."""
    import numpy as np

    rows = []
    if tracks is None:
        return rows
    for i in np.flatnonzero(tracks.confirmed):
        pos, vel = tracks.x[i, :3], tracks.x[i, 3:6]
        r = float(np.linalg.norm(pos))
        rows.append({"id": int(tracks.id[i]), "t": float(tracks.t[i]), "range_m": r,
                     "range_rate_mps": float(pos @ vel / r) if r > 0 else 0.0})
    return rows


def _transmit(src, params) -> int:
    """Send the radar's pulse train through a source that can (``--tx``): one PRI (the
    pulse at its start, then silence) repeated by the device (PlutoSDR cyclic buffer), or
    one CPI of it as a burst (SoapySDR). Returns the samples handed to the device."""
    import numpy as np

    from ..errors import ConfigError
    from ..hil.iq import PlutoSource, SoapySource
    from ..radar.waveform import replica

    pri = np.zeros(params.samples_per_pri, np.complex64)
    pulse = replica(params)
    pri[:pulse.size] = pulse / max(1.0, float(np.max(np.abs(pulse))))
    if isinstance(src, PlutoSource):
        return src.transmit(pri, cyclic=True)
    if isinstance(src, SoapySource):
        return src.transmit(np.tile(pri, params.pulses_per_cpi))
    raise ConfigError(f"--tx: the {type(src).__name__} cannot transmit (SoapySDR or "
                      "PlutoSDR only)")


def _run_sdr(args) -> int:
    """CPIs from the I/Q source (``--sdr``: SoapySDR, PlutoSDR, ZMQ or a SigMF replay) →
    the detection chain → the tracker, timed per CPI, with the source's accounting."""
    import time

    import numpy as np

    from ..cli import print_json
    from ..config import default_scenario, load_scenario
    from ..detect.chain import DetectConfig, DetectionChain
    from ..hil.iq import CpiShape, SigmfSource, open_sdr, parse_sdr_args
    from ..track.tracker import Tracker

    sc = load_scenario(args.scenario) if args.scenario else default_scenario()
    replay = parse_sdr_args(args.sdr).get("driver", "").lower() == "sigmf"
    params = shape = None
    if not replay:
        params = _sdr_params(args)
        shape = CpiShape(channels=tuple(c.strip() for c in args.channels.split(",")),
                         pulses=args.pulses, samples=params.samples_per_pri,
                         sample_rate_hz=args.rate_hz)
    power, n_dets, per_cpi, t_read, t_chain, t_track = [], [], [], [], [], []
    tracks = None
    skipped_scans = 0
    center_hz = args.center_hz
    with open_sdr(args.sdr, shape, center_hz=args.center_hz, gain_db=args.gain_db) as src:
        pointing = (0.0, 0.0)
        if isinstance(src, SigmfSource):
            params, center_hz = src.recording.params, src.center_hz
            shape = CpiShape(channels=src.recording.channels, pulses=params.pulses_per_cpi,
                             samples=params.samples_per_pri,
                             sample_rate_hz=params.sample_rate_hz)
        chain = DetectionChain(params, DetectConfig(pfa=args.pfa))
        tracker = Tracker(sc.tracker)
        tx_samples = _transmit(src, params) if args.tx else 0
        t_start = time.perf_counter()
        while len(power) < args.cpis:
            t0 = time.perf_counter()
            cube = src.read()
            t1 = time.perf_counter()
            if cube is None:
                break
            if isinstance(src, SigmfSource):
                pointing = src.pointing              # the beam of this CPI
            out = chain.process(cube, pointing)
            dets = _beam_angles(out.detections, pointing, params)
            t2 = time.perf_counter()
            if tracker.t is None or cube.t >= tracker.t:
                tracks = tracker.step(dets, t=cube.t)
            else:
                skipped_scans += 1               # a source clock that went back
            t3 = time.perf_counter()
            power.append(float(np.mean(np.abs(cube.data) ** 2)))     # all channels
            n_dets.append(len(dets))
            t_read.append(t1 - t0)
            t_chain.append(t2 - t1)
            t_track.append(t3 - t2)
            per_cpi.append(t3 - t1)
        wall = time.perf_counter() - t_start
        stats = dict(src.stats)
        kind = type(src).__name__
    n = len(power)
    busy = sum(per_cpi)
    confirmed = int(tracks.confirmed.sum()) if tracks is not None else 0
    doc = {"sdr": args.sdr, "center_hz": center_hz,
           "sample_rate_hz": shape.sample_rate_hz, "cpi_duration_s": shape.duration_s,
           **stats,
           "mean_power_db": float(10 * np.log10(np.mean(power))) if power else None,
           # the chain and the tracker (new keys)
           "source": kind, "channels": list(shape.channels), "pulses": shape.pulses,
           "tx_samples": tx_samples,
           "samples_per_pri": shape.samples,
           "detections": int(sum(n_dets)), "detections_per_cpi": n_dets,
           "tracks_live": 0 if tracks is None else len(tracks.id),
           "tracks_confirmed": confirmed,
           "track_ids_confirmed": ([] if tracks is None
                                   else [int(i) for i in tracks.id[tracks.confirmed]]),
           "tracks": _track_rows(tracks),
           "tracker": dict(tracker.stats), "skipped_scans": skipped_scans,
           "timing_s": {"read": _pcts(t_read), "chain": _pcts(t_chain),
                        "tracker": _pcts(t_track), "cpi": _pcts(per_cpi)},
           "processing_s": busy, "wall_seconds": wall,
           "real_time_factor": (n * shape.duration_s / busy) if busy > 0 else None}
    if args.json:
        print_json(doc)
        return 0
    ms = lambda v: "n/a" if v is None else f"{1e3 * v:.2f} ms"  # noqa: E731
    tc = doc["timing_s"]["cpi"]
    print(f"xband hil --sdr {args.sdr} ({kind}): {stats['cpis']} CPIs of {shape.pulses}×"
          f"{shape.samples} samples × {len(shape.channels)} channel(s) at "
          f"{shape.sample_rate_hz:g} S/s")
    print(f"  source    : overflows {stats['overflows']}, timestamp gaps "
          f"{stats['timestamp_gaps']}, dropped CPIs {stats['dropped_cpis']}, timeouts "
          f"{stats['timeouts']}; mean power {doc['mean_power_db']} dBFS²")
    print(f"  detections: {doc['detections']} ({', '.join(map(str, n_dets[:12]))}"
          f"{', …' if n > 12 else ''} per CPI)")
    print(f"  tracks    : {doc['tracks_live']} live, {confirmed} confirmed "
          f"{doc['track_ids_confirmed'][:10]}; initiated {tracker.stats['initiated']}")
    rtf = doc["real_time_factor"]
    print(f"  per CPI   : p50 {ms(tc['p50'])}, p99 {ms(tc['p99'])}, max {ms(tc['max'])} "
          f"(chain p50 {ms(doc['timing_s']['chain']['p50'])}, tracker p50 "
          f"{ms(doc['timing_s']['tracker']['p50'])}); real-time factor "
          f"{'n/a' if rtf is None else f'{rtf:.2f}'}")
    return 0


def set_realtime(priority: int) -> None:
    """SCHED_FIFO at ``priority`` for this process's threads from now on (threads and child
    processes started later inherit it). A clear error when the OS refuses."""
    import os

    from ..errors import ConfigError, HardwareError

    if not 1 <= priority <= 99:
        raise ConfigError(f"--rt-priority: must be in 1..99, got {priority}")
    if not hasattr(os, "sched_setscheduler"):
        raise HardwareError("--rt-priority: SCHED_FIFO is not available on this OS")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        raise HardwareError("--rt-priority: not permitted — needs CAP_SYS_NICE (root, or "
                            "`setcap cap_sys_nice+ep` on the interpreter) or an RLIMIT_RTPRIO "
                            "of at least the priority (`ulimit -r`, /etc/security/limits.conf)"
                            ) from None


def run(args) -> int:
    if getattr(args, "rt_priority", None) is not None:
        set_realtime(args.rt_priority)
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
    if not args.speed >= 0.0:
        raise ConfigError(f"--speed: must be >= 0 (0: unpaced lock-step), got {args.speed}")
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

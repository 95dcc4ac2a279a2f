"""The host side of a hardware-in-the-loop run: track + guide against a device.

:func:`run_hil` drives :class:`xband.pipeline.Host` — the same tracker, designation,
guidance, history and recording code as the pure simulation — from the messages of a
SENSOR device on a :class:`~xband.hil.link.Link`:

* DETECTIONS at ``t`` are held until the STATE of the same ``t`` arrives (the device sends
  the scan's detections, then the bodies' truth: body 0 the interceptor, 1 the target);
  a device without TX_DETECTIONS sends truth only, and the host's own measurement model
  measures it (``[radar]``), drawing from the scenario's measurement stream;
* at each STATE the host tracks the scan (if one is due), then, at a guidance event,
  computes the command, and answers with exactly one COMMAND of the same ``t_ns`` (an empty
  one — ``count = 0``, "keep the last command" — at an event that is not a guidance event);
* the device's META ``{"result": …}`` ends the run (the plant side knows the closest
  approach); a run whose device never reports one ends with a ``HardwareError``.

Pacing is the device's: the host is event-driven and paces nothing (GNU Radio's rule:
pace only where no hardware clock does). Deadline accounting: the device counts commands
that missed their deadline (reported in its META); the host counts its own **late
replies** — the time from receiving a STATE to queueing its COMMAND above the event
budget (1 / guidance rate).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..config import Scenario
from ..errors import HardwareError
from ..pipeline import Clock, Host, RunResult, rngs
from ..radar.measure import MeasurementModel
from ..timing import StageTimer
from ..types import Commands
from .link import Link, LinkEvent
from .messages import Cap

__all__ = ["HilResult", "run_hil", "EMPTY_COMMAND"]

EMPTY_COMMAND = Commands(t=np.zeros(0), a_cmd=np.zeros((0, 3)), t_go=np.zeros(0),
                         saturated=np.zeros(0, bool))


@dataclass
class HilResult:
    """The run (``run``, a :class:`~xband.pipeline.RunResult`), the link's statistics at
    the end, the device's report and the host's own loop counters."""

    run: RunResult
    link: dict
    device: dict
    host: dict

    def to_json(self) -> dict:
        lk, dev, host = self.link, self.device, self.host
        dm_dev = dev.get("deadline_misses")
        doc = self.run.to_json()
        doc.update({
            "frames_sent": lk["frames_sent"], "frames_received": lk["frames_received"],
            "bytes_sent": lk["bytes_sent"], "bytes_received": lk["bytes_received"],
            "crc_errors": lk["crc_errors"], "cobs_errors": lk["cobs_errors"],
            "seq_gaps": lk["seq_gaps"], "rtt_p50_s": lk["rtt_p50_s"],
            "rtt_p99_s": lk["rtt_p99_s"], "jitter_s": lk["jitter_s"],
            "deadline_misses": int(dm_dev if dm_dev is not None else host["late_replies"]),
            "host_late_replies": host["late_replies"], "disconnects": lk["disconnects"],
            "reconnects": lk["reconnects"], "link": lk, "device": dev, "host": host,
        })
        return doc


def run_hil(sc: Scenario, link: Link, *, recorder=None, progress=None,
            session_timeout_s: float = 10.0, silence_timeout_s: float = 5.0,
            reconnect_timeout_s: float = 15.0) -> HilResult:
    """Run track + guide against the device on ``link`` (opened) until it reports the
    result. ``silence_timeout_s``: longest time without any message while in session;
    ``reconnect_timeout_s``: longest outage after the device disappeared."""
    timer = StageTimer()
    rng_meas, rng_guid = rngs(sc)
    host = Host(sc, rng_guid, timer, recorder, progress)
    clock = Clock.of(sc)
    sensor = MeasurementModel(sc.radar)
    ti = sc.interceptor.target
    rcs = np.array([sc.targets[ti].rcs_m2])
    budget = 1.0 / sc.rates.guidance_hz
    peer = link.wait_session(session_timeout_s)
    if not int(peer.capabilities) & Cap.TX_STATE:
        raise HardwareError(f"{link.url or 'link'}: device '{peer.name}' does not send STATE "
                            "(TX_STATE): the host needs the interceptor's state to guide it")
    measures_truth = not (int(peer.capabilities) & Cap.TX_DETECTIONS)
    pending: dict[int, object] = {}
    counters = {"events": 0, "late_replies": 0, "max_reply_s": 0.0, "link_down": 0,
                "orphan_detections": 0, "measured_truth_scans": 0, "peer_errors": []}
    outcome = device = None
    last_msg = time.monotonic()
    down_since = None
    while True:
        item = link.recv(timeout=0.1)
        now = time.monotonic()
        if item is None:
            if outcome is not None and (link.closed_by_peer or now - last_msg > 1.0):
                break
            if down_since is not None:
                if now - down_since > reconnect_timeout_s:
                    raise HardwareError(f"{link.url or 'link'}: the device did not come back "
                                        f"within {reconnect_timeout_s:g} s")
            elif now - last_msg > silence_timeout_s:
                raise HardwareError(f"{link.url or 'link'}: no message from the device for "
                                    f"{silence_timeout_s:g} s (last error: {link.last_error})")
            continue
        last_msg = now
        if isinstance(item, LinkEvent):
            if item.kind == "down":
                counters["link_down"] += 1
                down_since = down_since or now
            elif item.kind == "session":
                down_since = None
            elif item.kind == "error":
                counters["peer_errors"].append(f"{int(item.detail.code)}: {item.detail.text}")
            elif item.kind == "close" and outcome is not None:
                break
            continue
        kind = item.kind
        if kind == "detections":
            t_ns = round(item.t * 1e9)
            if pending:
                counters["orphan_detections"] += len(pending)   # a STATE was lost
                pending.clear()
            pending[t_ns] = item.record
        elif kind == "state":
            t_rx = time.monotonic()
            t_ns = round(item.t * 1e9)
            k = clock.step_of(item.t)
            t = clock.time_of(k)         # the event time exactly as the simulation has it
            st = item.record
            bid = list(st.body_id)
            if 1 not in bid or 0 not in bid:
                continue
            i1 = bid.index(1)
            dets = pending.pop(t_ns, None)
            if pending:
                counters["orphan_detections"] += len(pending)
                pending.clear()
            if dets is None and measures_truth and clock.is_scan(k):
                dets = sensor.measure(t, st.pos[i1:i1 + 1], st.vel[i1:i1 + 1], rcs, rng_meas)
                counters["measured_truth_scans"] += 1
            if dets is not None:
                dets.t[:] = t
                host.on_scan(t, dets, st.pos[i1].copy(), st.vel[i1].copy())
            cmd = host.on_guidance(t, st) if clock.is_guidance(k) else EMPTY_COMMAND
            link.send("command", cmd, t)
            reply = time.monotonic() - t_rx
            counters["events"] += 1
            counters["max_reply_s"] = max(counters["max_reply_s"], reply)
            counters["late_replies"] += int(reply > budget)
        elif kind == "meta" and isinstance(item.record, dict) and "result" in item.record:
            outcome = item.record["result"]
            device = item.record.get("device", {})
    result = host.result(outcome)
    stats = link.stats()
    if link.peer_stats:
        device = {**link.peer_stats, **(device or {})}
    return HilResult(run=result, link=stats, device=device or {}, host=counters)

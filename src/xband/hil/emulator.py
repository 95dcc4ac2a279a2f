"""The device emulator: the plant side of the engagement as a SENSOR device on a real port.

Run as a separate process (``python -m xband.hil.emulator``); ``xband hil --emulate``
starts it for you. It opens a pseudo-terminal pair (``--pty``, the default; the slave's
path is printed, and kept at ``--link-path`` as a symlink the way udev names boards) or
listens on a TCP socket (``--listen HOST:PORT``, for ``socket://``), speaks
hil/PROTOCOL.md through :class:`~xband.hil.link.Link` (role SENSOR) and runs
:class:`xband.pipeline.Engagement` — the very code of the pure simulation — in real time:

* at each scan or guidance event it sends DETECTIONS (scan events) then STATE (body 0 the
  interceptor, 1 the engaged target), stamped with the event's scenario time;
* it waits for the host's COMMAND with that ``t_ns`` until the **deadline**, the due time
  of the next event (``--speed`` scales the clock; ``--speed 0`` runs unpaced, the
  deadline then being ``--wait-s`` after sending). A command in time is applied from the
  event on, exactly as in the simulation — so with no added latency an emulated run gives
  the simulation's miss distance bit for bit. A command after its deadline is a
  **deadline miss**. With ``--late wait`` (the default, soft real time) a command up to
  ``--grace-s`` late is still applied at its event and the device clock slips (it catches
  up afterwards), so a loaded host costs misses but not determinism; with ``--late hold``
  (hard real time) or beyond the grace the previous command is held, and the late one
  applies from the next event;
* after closest approach (or the duration) it sends META ``{"result": …, "device": …}``,
  then STATS and ERROR CLOSE.

Faults for testing the link (all on the emulator's transmit side): ``--latency-s``
(added one-way delay of every frame), ``--corrupt P`` (a fraction P of the messages get
one bit flipped, evenly spread; the bit position is drawn from ``--fault-seed``; the
closing META, the result report, is sent after the queue drained and never corrupted),
``--unplug-at T --unplug-for D`` (at scenario time T the port is closed as if the cable
were pulled; after D s a new pty appears behind the same ``--link-path``, or the socket
accepts again; the device clock pauses meanwhile).

The first line on stdout is JSON ``{"port": …, "link": …, "pid": …}``; the last, at the
end, JSON ``{"result": …, "device": …}``.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import tty
from dataclasses import replace

import numpy as np

from ..config import Scenario, default_scenario, load_scenario
from ..errors import XbandError
from ..pipeline import Engagement, rngs
from ..types import Commands
from .link import SENSOR_CAPS, TIMEOUT_S, FdPort, Link, LinkEvent, SocketPort, rtt_summary
from .messages import Role

__all__ = ["Emulator", "PtyEndpoint", "SocketEndpoint", "main"]


class PtyEndpoint:
    """A pseudo-terminal pair; ``path`` is the slave (the host's side), ``link_path`` a
    stable symlink to it. ``reopen()`` makes a new pair behind the same symlink."""

    def __init__(self, link_path: str | None = None):
        self.link_path = link_path
        self.master = self.slave = -1
        self.path = None

    def open(self) -> FdPort:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)           # no echo, no line discipline: a binary link
        self.path = os.ttyname(self.slave)
        if self.link_path:
            tmp = f"{self.link_path}.tmp{os.getpid()}"
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link_path)
        return FdPort(self.master)

    @property
    def url(self) -> str:
        return self.link_path or self.path

    def unplug(self) -> None:
        """Close both sides: the host's reads fail as on a pulled USB cable."""
        if self.link_path:
            try:
                os.unlink(self.link_path)
            except FileNotFoundError:
                pass
        for fd in (self.slave,):
            try:
                os.close(fd)
            except OSError:
                pass
        self.slave = -1

    def close(self) -> None:
        self.unplug()


class SocketEndpoint:
    """A listening TCP socket; ``open()`` accepts one host connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind((host, port))
        self.srv.listen(1)
        self.host, self.port = self.srv.getsockname()[:2]
        self.link_path = None
        self.path = f"socket://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.path

    def open(self, timeout: float = 30.0) -> SocketPort:
        self.srv.settimeout(timeout)
        conn, _ = self.srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        return SocketPort(conn)

    def unplug(self) -> None:
        pass

    def close(self) -> None:
        self.srv.close()


def _corrupter(p: float, seed: int):
    """Flip one bit in a fraction ``p`` of the messages (exactly, evenly spread)."""
    if p <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    state = {"i": 0, "corrupted": 0}

    def fault(data: bytes) -> bytes:
        if state.get("off"):
            return data
        i = state["i"]
        state["i"] = i + 1
        if int((i + 1) * p) == int(i * p) or len(data) < 2:
            return data
        b = bytearray(data)
        j = int(rng.integers(0, len(b) - 1))      # never the final delimiter
        b[j] ^= 1 << int(rng.integers(0, 8))
        state["corrupted"] += 1
        return bytes(b)

    return fault, state


class Emulator:
    """The SENSOR device: see the module documentation."""

    def __init__(self, sc: Scenario, endpoint, *, speed: float = 1.0, wait_s: float = 2.0,
                 latency_s: float = 0.0, corrupt: float = 0.0, fault_seed: int = 1,
                 unplug_at: float | None = None, unplug_for: float = 0.5,
                 session_timeout_s: float = 30.0, heartbeat_s: float = 0.1,
                 late: str = "wait", grace_s: float = 0.1):
        self.sc = sc
        self.endpoint = endpoint
        self.speed = speed
        self.wait_s = wait_s
        # link silence timeout: the protocol's 1 s (PROTOCOL.md §7.3) in real time; in
        # lock-step (speed 0) a host may think up to wait_s per event, so 3·wait_s
        self.link_timeout_s = TIMEOUT_S if speed > 0 else max(TIMEOUT_S, 3 * wait_s)
        self.latency_s = latency_s
        self.fault, self.fault_state = _corrupter(corrupt, fault_seed)
        self.unplug_at = unplug_at
        self.unplug_for = unplug_for
        self.session_timeout_s = session_timeout_s
        self.heartbeat_s = heartbeat_s
        if late not in ("wait", "hold"):
            raise ValueError(f"late={late!r}: expected 'wait' or 'hold'")
        self.late = late
        self.grace_s = grace_s if late == "wait" else 0.0
        self.counts = {"events": 0, "scans": 0, "commands_in_time": 0, "deadline_misses": 0,
                       "late_commands": 0, "commands_lost": 0, "late_applied": 0,
                       "empty_commands": 0, "unplugs": 0,
                       "events_sent_connected": 0, "host_closed": 0}
        self.event_rtt: list[float] = []
        self.link: Link | None = None

    def _new_link(self, port) -> Link:
        return Link(port, role=Role.SENSOR, name="xband-emulator", capabilities=SENSOR_CAPS,
                    reconnect=False, heartbeat_s=self.heartbeat_s, tx_delay_s=self.latency_s,
                    fault=self.fault, timeout_s=self.link_timeout_s)

    def _unplug(self) -> None:
        link = self.link
        self.counts["unplugs"] += 1
        link.detach()
        self.endpoint.unplug()
        time.sleep(self.unplug_for)
        link.attach(self.endpoint.open())
        link.wait_session(self.session_timeout_s)

    def run(self, port=None) -> dict:
        """Serve one session on ``port`` (default: ``endpoint.open()``) until the end of
        the engagement; returns ``{"result": …, "device": …}``."""
        ep = self.endpoint
        port = port if port is not None else ep.open()
        self.link = link = self._new_link(port).open()
        try:
            link.wait_session(self.session_timeout_s)
            return self._loop(link)
        finally:
            link.close(send_close=True, stats=self._stats())   # answers a host's CLOSE too
            ep.close()

    def _stats(self) -> dict:
        d = dict(self.link.stats()) if self.link else {}
        d.update(self.counts)
        d["frames_corrupted"] = self.fault_state["corrupted"] if self.fault_state else 0
        d.update({f"event_{k}": v for k, v in rtt_summary(self.event_rtt).items()})
        return d

    def _loop(self, link: Link) -> dict:
        sc, c = self.sc, self.counts
        rng_meas, _ = rngs(sc)
        eng = Engagement(sc, rng_meas)
        dt = eng.clock.dt
        speed = self.speed
        a_cmd = np.zeros((1, 3))
        pending_late: Commands | None = None
        wall0 = time.monotonic()
        unplugged = False
        while not eng.finished:
            eng.begin_event()
            t = eng.t
            if not (eng.scan_due or eng.guidance_due):
                eng.advance(a_cmd)
                continue
            if self.unplug_at is not None and not unplugged and t >= self.unplug_at:
                unplugged = True
                t_out = time.monotonic()
                self._unplug()
                wall0 += time.monotonic() - t_out       # the device clock pauses
            due = wall0 + t / speed if speed > 0 else time.monotonic()
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            t_ns = round(t * 1e9)
            if eng.scan_due:
                link.send("detections", eng.scan(), t)
                c["scans"] += 1
            link.send("state", eng.state(), t)
            c["events"] += 1
            c["events_sent_connected"] += int(link.connected and link.in_session)
            sent = time.monotonic()
            budget = (eng.next_event() - eng.k) * dt / speed if speed > 0 else self.wait_s
            deadline = max(due, sent) + budget if speed > 0 else sent + budget
            give_up = deadline + (self.grace_s if speed > 0 else 0.0)
            got = False
            while True:
                left = give_up - time.monotonic()
                if left <= 0:
                    break
                item = link.recv(timeout=left)
                if item is None:
                    break
                if isinstance(item, LinkEvent):
                    if item.kind == "close":
                        c["host_closed"] += 1
                        return self._finish(eng, link, aborted="host closed the session")
                    if item.kind == "down":           # the host went silent: wait for it
                        try:                          # to come back, or give up the run
                            link.wait_session(self.session_timeout_s)
                        except XbandError:
                            return self._finish(eng, link, aborted="host lost")
                        break
                    continue
                if item.kind != "command":
                    continue
                if round(item.t * 1e9) == t_ns:
                    arrived = time.monotonic()
                    self.event_rtt.append(arrived - sent)
                    if arrived > deadline and self.late == "hold":
                        c["late_commands"] += 1    # hard real time: too late for its event
                        if len(item.record):
                            pending_late = item.record.a_cmd[:1].copy()
                        break
                    got = True
                    if arrived > deadline:         # late, but within the grace: applied
                        c["deadline_misses"] += 1  # at its event (the device clock slips)
                        c["late_applied"] += 1
                    else:
                        c["commands_in_time"] += 1
                    if len(item.record):
                        a_cmd = item.record.a_cmd[:1].copy()
                    else:
                        c["empty_commands"] += 1
                        if pending_late is not None:
                            a_cmd = pending_late
                    pending_late = None
                    break
                c["late_commands"] += 1           # the answer to an earlier event
                if len(item.record):
                    pending_late = item.record.a_cmd[:1].copy()
            if not got:
                c["deadline_misses"] += 1
                c["commands_lost"] += 1
                if pending_late is not None:      # a late command applies from now on
                    a_cmd, pending_late = pending_late, None
            eng.advance(a_cmd)
        return self._finish(eng, link)

    def _finish(self, eng: Engagement, link: Link, aborted: str | None = None) -> dict:
        doc = {"result": eng.result(), "device": self._stats()}
        if aborted:
            doc["aborted"] = aborted
        if link.connected and link.in_session:
            if self.fault_state is not None:
                # the faults are the engagement's; the result report must arrive (a
                # corrupted META left the host without an outcome: a ~1 %-per-run flake)
                link.flush(1.0)
                self.fault_state["off"] = True
            link.send("meta", doc, eng.t)
        return doc


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m xband.hil.emulator", allow_abbrev=False,
                                 description="xband device emulator (SENSOR role)")
    ap.add_argument("--scenario", metavar="TOML", help="scenario file (default: the demo's)")
    ap.add_argument("--seed", type=int, help="override [scenario] seed")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--pty", action="store_true", help="serve on a new pty (default)")
    g.add_argument("--listen", metavar="HOST:PORT", help="serve on a TCP socket")
    ap.add_argument("--link-path", metavar="PATH", help="keep a symlink to the pty here")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="scenario seconds per wall second; 0 = unpaced (default 1)")
    ap.add_argument("--wait-s", type=float, default=2.0,
                    help="deadline after sending an event when --speed 0 (default 2 s)")
    ap.add_argument("--late", choices=("wait", "hold"), default="wait",
                    help="a command after its deadline: apply it at its event within "
                         "--grace-s (wait, default) or hold the previous one (hold)")
    ap.add_argument("--grace-s", type=float, default=0.1)
    ap.add_argument("--latency-s", type=float, default=0.0, help="added transmit delay")
    ap.add_argument("--corrupt", type=float, default=0.0, help="fraction of corrupted messages")
    ap.add_argument("--fault-seed", type=int, default=1)
    ap.add_argument("--unplug-at", type=float, help="scenario time of an unplug (s)")
    ap.add_argument("--unplug-for", type=float, default=0.5, help="outage (s)")
    ap.add_argument("--session-timeout", type=float, default=30.0)
    ap.add_argument("--heartbeat-s", type=float, default=0.1)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sc = load_scenario(args.scenario) if args.scenario else default_scenario()
        if args.seed is not None:
            sc = replace(sc, scenario=replace(sc.scenario, seed=args.seed))
        if args.listen:
            host, _, port = args.listen.rpartition(":")
            ep = SocketEndpoint(host or "127.0.0.1", int(port or 0))
        else:
            ep = PtyEndpoint(args.link_path)
        port = ep.open() if isinstance(ep, PtyEndpoint) else None
        print(json.dumps({"port": ep.path, "link": ep.url, "pid": os.getpid()}), flush=True)
        emu = Emulator(sc, ep, speed=args.speed, wait_s=args.wait_s, latency_s=args.latency_s,
                       corrupt=args.corrupt, fault_seed=args.fault_seed,
                       unplug_at=args.unplug_at, unplug_for=args.unplug_for,
                       session_timeout_s=args.session_timeout, heartbeat_s=args.heartbeat_s,
                       late=args.late, grace_s=args.grace_s)
        doc = emu.run(port)
    except XbandError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    except KeyboardInterrupt:
        return 1
    from ..cli import _clean
    print(json.dumps(_clean(doc)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

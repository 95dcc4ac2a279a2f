"""A protocol link over a byte port: pySerial URL, pseudo-terminal or socket.

:class:`Link` is the hardware edge of xband: the only place with threads. It owns

* a **port** — opened from any pySerial URL (``/dev/ttyACM0``, ``loop://``,
  ``socket://host:port``, ``rfc2217://host:port``, a ``/dev/pts/N`` or a symlink to one),
  or a port object given by the caller (anything with pySerial's ``read``/``write``/
  ``close``, e.g. :class:`FdPort` for the master side of a pty);
* a **reader thread** — reads bytes, decodes frames (:class:`~xband.hil.codec.Decoder`),
  reassembles messages (:class:`~xband.hil.messages.Assembler`), answers the session's
  control messages itself (HELLO, HEARTBEAT, ERROR; hil/PROTOCOL.md §7) and hands every
  other message to a **bounded receive queue**; when that is full the message is dropped
  and counted (``rx_dropped``) and the peer told with ``ERROR OVERRUN`` at most once per
  second. It also sends the opening HELLO every 500 ms until the peer's arrives and a
  HEARTBEAT every ``heartbeat_s``;
* a **writer thread** — drains a **bounded send queue**: :meth:`send` blocks while the
  queue is full (back-pressure) up to its timeout, then drops and counts (``tx_dropped``);
* **reconnection** — when the port fails (device unplugged, pty closed) the reader
  reports a ``down`` event, reopens the URL every ``reconnect_interval_s`` and, once it
  opens, restarts the session (lone 0x00 + HELLO) and reports ``up``. Messages already in
  the receive queue are kept: nothing received is lost.

Statistics (:meth:`stats`, live and at the end): frames and bytes each way, every decoder
counter of PROTOCOL.md §4, assembler counters, drops, reconnects, and the round-trip time
from the HEARTBEAT echo (``RTT = now − echo_t_ns − hold_ns``) as p50/p90/p99/max and
jitter (mean |ΔRTT| of consecutive samples, as RFC 3550's interarrival jitter).

Sans-I/O pieces stay in :mod:`~xband.hil.codec` and :mod:`~xband.hil.messages`; this
module only moves bytes and keeps the session.
"""
from __future__ import annotations

import errno
import os
import queue
import select
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import HardwareError
from .codec import MAX_PAYLOAD, MIN_PAYLOAD, Decoder, Encoder
from .messages import (
    Assembler, Cap, ErrorCode, ErrorMessage, Heartbeat, Hello, Message, Role,
    encode_message, negotiate_version,
)

__all__ = ["Link", "LinkEvent", "FdPort", "SocketPort", "open_port", "raw_fd",
           "realtime_scheduled", "rtt_summary", "HOST_CAPS", "SENSOR_CAPS"]

HOST_CAPS = Cap.TX_COMMAND | Cap.RX_DETECTIONS | Cap.RX_STATE | Cap.TX_STATS
SENSOR_CAPS = Cap.TX_DETECTIONS | Cap.TX_STATE | Cap.RX_COMMAND | Cap.TX_STATS

HELLO_PERIOD_S = 0.5
HEARTBEAT_PERIOD_S = 0.1
TIMEOUT_S = 1.0
CLOSE_WAIT_S = 1.0
POLL_MAX_S = 0.05           # longest the reader waits for bytes before its periodic duties
READ_CHUNK = 65536
INLINE_IDLE_S = 0.01        # the reader thread takes the port back after this long without recv
_RTT_KEEP = 200_000


class LinkEvent(NamedTuple):
    """Something that happened to the link, delivered in order with the messages:
    ``session`` (peer's HELLO accepted; ``detail`` the peer's Hello), ``down`` (port
    failed or peer silent for 1 s), ``up`` (port reopened), ``error`` (the peer's ERROR;
    ``detail`` the ErrorMessage), ``close`` (the peer's ERROR CLOSE)."""

    kind: str
    t_wall: float
    detail: Any = None


# ------------------------------------------------------------------ ports
class FdPort:
    """A pySerial-like port over a file descriptor (the master side of a pty, a pipe):
    ``read(n)`` waits up to ``timeout`` s for data, ``write`` writes it all (or raises
    after ``write_timeout``), ``close``. Reads on a hung-up pty raise ``OSError`` (EIO)."""

    def __init__(self, fd: int, timeout: float = 0.01, write_timeout: float = 1.0):
        self.fd = fd
        self.timeout = timeout
        self.write_timeout = write_timeout
        os.set_blocking(fd, False)

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    def read(self, n: int = 1) -> bytes:
        r, _, _ = select.select([self.fd], [], [], self.timeout)
        if not r:
            return b""
        try:
            data = os.read(self.fd, max(n, 1))
        except BlockingIOError:
            return b""
        if not data:
            raise OSError(errno.EIO, "port closed")
        return data

    @property
    def in_waiting(self) -> int:
        return 65536

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        deadline = time.monotonic() + self.write_timeout
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OSError(errno.ETIMEDOUT, "write timeout") from None
                select.select([], [self.fd], [], min(left, 0.05))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            finally:
                self.fd = -1


class SocketPort(FdPort):
    """A connected stream socket as a port (the device side of ``socket://``)."""

    def __init__(self, sock, timeout: float = 0.01, write_timeout: float = 1.0):
        self.sock = sock
        super().__init__(sock.fileno(), timeout, write_timeout)

    def read(self, n: int = 1) -> bytes:
        r, _, _ = select.select([self.sock], [], [], self.timeout)
        if not r:
            return b""
        try:
            data = self.sock.recv(max(n, 4096))
        except BlockingIOError:
            return b""
        if not data:
            raise OSError(errno.ECONNRESET, "connection closed by peer")
        return data

    def close(self) -> None:
        if self.fd >= 0:
            self.fd = -1
            self.sock.close()


def open_port(url: str, baudrate: int = 921600, timeout: float = 0.01):
    """Open a pySerial URL (or device path) for raw binary I/O. A missing pySerial or a
    port that cannot be opened is a :class:`HardwareError` naming the URL."""
    try:
        import serial
    except ImportError:
        raise HardwareError(f"{url}: pySerial is not installed (pip install pyserial)") from None
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout,
                                     write_timeout=1.0, exclusive=None)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise HardwareError(f"{url}: cannot open: {exc}") from None
    sock = getattr(port, "_socket", None)           # socket://: pySerial leaves Nagle on
    if sock is not None:
        import socket

        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    return port


def raw_fd(port) -> int | None:
    """The file descriptor to ``select`` and ``os.read`` directly, bypassing pySerial's
    ``read`` (``in_waiting`` ioctl + select + read per call, twice for a frame that
    arrives while waiting for its first byte): for :class:`FdPort`/:class:`SocketPort`,
    pySerial's POSIX serial port (a tty, pty or USB CDC-ACM; it keeps no user-space
    buffer) and its ``socket://`` handler (whose ``read`` is a plain ``recv``). None for
    anything else (``loop://``, ``rfc2217://``, Windows): those keep pySerial's ``read``."""
    if isinstance(port, FdPort):
        return port.fd if port.fd >= 0 else None
    if os.name != "posix":
        return None
    mod = type(port).__module__
    if mod in ("serial.serialposix", "serial.urlhandler.protocol_socket"):
        try:
            fd = port.fileno()
        except Exception:  # noqa: BLE001 — not open
            return None
        return fd if isinstance(fd, int) and fd >= 0 else None
    return None


def realtime_scheduled() -> bool:
    """Whether the calling thread runs under a real-time policy (SCHED_FIFO / SCHED_RR,
    e.g. ``xband hil --rt-priority`` or ``chrt -f``): the default of ``Link.inline_rx``."""
    try:
        return os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR)
    except (AttributeError, OSError):
        return False


def rtt_summary(samples) -> dict:
    """p50/p90/p99/max/mean RTT (s) and jitter (mean |ΔRTT|) of a sequence of RTTs."""
    a = np.asarray(list(samples), float)
    if a.size == 0:
        nan = float("nan")
        return {"rtt_samples": 0, "rtt_p50_s": nan, "rtt_p90_s": nan, "rtt_p99_s": nan,
                "rtt_max_s": nan, "rtt_mean_s": nan, "jitter_s": nan}
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"rtt_samples": int(a.size), "rtt_p50_s": float(p50), "rtt_p90_s": float(p90),
            "rtt_p99_s": float(p99), "rtt_max_s": float(a.max()), "rtt_mean_s": float(a.mean()),
            "jitter_s": float(np.mean(np.abs(np.diff(a)))) if a.size > 1 else 0.0}


@dataclass
class _Counters:
    frames_sent: int = 0
    bytes_sent: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    tx_errors: int = 0
    overruns_reported: int = 0
    disconnects: int = 0
    reconnects: int = 0
    sessions: int = 0
    timeouts: int = 0
    hellos_sent: int = 0
    heartbeats_sent: int = 0
    heartbeats_received: int = 0
    peer_errors: int = 0
    pre_session_discarded: int = 0


# ------------------------------------------------------------------ the link
class Link:
    """One end of a protocol session over a port; see the module documentation.

    ``target``: a pySerial URL (str) or an open port object. ``role``, ``name``,
    ``capabilities``: this side's HELLO. ``rx_queue`` / ``tx_queue``: queue bounds (items).
    ``reconnect``: reopen a URL after a failure (ports given as objects are not reopened;
    :meth:`attach` gives a new one). ``tap(direction, bytes)``: called with every chunk read
    (``"rx"``) or frame written (``"tx"``), like pySerial's spy. ``clock``: monotonic ns.
    Use as a context manager, or call :meth:`open` and :meth:`close`.
    """

    def __init__(self, target, *, role: int = Role.HOST, name: str = "xband-host",
                 capabilities: int = HOST_CAPS, baudrate: int = 921600,
                 max_payload: int = MAX_PAYLOAD, rx_queue: int = 4096, tx_queue: int = 1024,
                 reconnect: bool = True, reconnect_interval_s: float = 0.1,
                 heartbeat_s: float = HEARTBEAT_PERIOD_S, timeout_s: float = TIMEOUT_S,
                 handshake: bool = True, tap: Callable | None = None,
                 tx_delay_s: float = 0.0, fault: Callable[[bytes], bytes] | None = None,
                 inline_rx: bool | None = None,
                 clock: Callable[[], int] = time.monotonic_ns):
        self.url = target if isinstance(target, str) else None
        self._port = None if isinstance(target, str) else target
        self.baudrate = baudrate
        self.hello = Hello(role=role, name=name, capabilities=int(capabilities),
                           max_payload=max_payload)
        self.reconnect = reconnect
        self.reconnect_interval_s = reconnect_interval_s
        self.heartbeat_s = heartbeat_s
        self.timeout_s = timeout_s
        self.handshake = handshake
        self.tap = tap
        self.tx_delay_s = tx_delay_s
        self.fault = fault
        self._clock = clock
        self._t0 = clock()
        self._rxq: queue.Queue = queue.Queue(maxsize=rx_queue)
        self._txq: queue.Queue = queue.Queue(maxsize=tx_queue)
        self._enc = Encoder(max_payload=MIN_PAYLOAD)
        self._dec = Decoder(max_payload=max_payload)
        self._asm = Assembler()
        self._lock = threading.RLock()        # encoder, counters, session state
        self._wlock = threading.Lock()        # the port's write side
        self._rlock = threading.Lock()        # the port's read side, decoder, dispatch
        self.inline_rx = realtime_scheduled() if inline_rx is None else bool(inline_rx)
        self._consumers = 0                   # threads inside recv()
        self._consumer_left = 0.0             # monotonic time the last one returned
        self._stop = threading.Event()
        self._session_ev = threading.Event()
        self._closed_by_peer = threading.Event()
        self._threads: list[threading.Thread] = []
        self._inflight = 0                    # messages queued or being written
        self.c = _Counters()
        self.peer: Hello | None = None
        self.version: int | None = None
        self.connected = False
        self._rtt: deque = deque(maxlen=_RTT_KEEP)
        self._peer_hb: tuple[int, int] | None = None   # (peer t_ns, my receive time ns)
        self._last_hello = -10**18
        self._last_hb = -10**18
        self._last_rx = clock()
        self._last_overrun = -10**18
        self._dropped_since = 0
        self.peer_stats: dict | None = None
        self.last_error: str | None = None

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> "Link":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close(send_close=exc[0] is None)

    def now_ns(self) -> int:
        """This side's link clock (ns since the link was created)."""
        return self._clock() - self._t0

    def open(self) -> "Link":
        """Open the port and start the reader and writer threads."""
        if self._port is None:
            self._port = open_port(self.url, self.baudrate)
        self.connected = True
        self._on_connect()
        for fn, nm in ((self._reader, "xband-link-rx"), (self._writer, "xband-link-tx")):
            th = threading.Thread(target=fn, name=nm, daemon=True)
            th.start()
            self._threads.append(th)
        return self

    def close(self, send_close: bool = True, stats: dict | None = None) -> None:
        """End the session (STATS, then ERROR CLOSE, then wait ≤ 1 s for the peer's CLOSE
        when ``send_close``), stop the threads and close the port. Idempotent."""
        if self._stop.is_set():
            return
        if send_close and self.connected and (self._session_ev.is_set()
                                              or self._closed_by_peer.is_set()):
            try:
                if self.hello.capabilities & Cap.TX_STATS:
                    self.send("stats", stats if stats is not None else self.stats(),
                              self.now_ns() / 1e9, timeout=0.5)
                self.send("error", ErrorMessage(ErrorCode.CLOSE, ""), self.now_ns() / 1e9,
                          timeout=0.5)
                deadline = time.monotonic() + 0.5
                while not self._txq.empty() and time.monotonic() < deadline:
                    time.sleep(0.005)
                self._closed_by_peer.wait(CLOSE_WAIT_S)
            except HardwareError:
                pass
        self._stop.set()
        for th in self._threads:
            th.join(timeout=2.0)
        with self._wlock:
            if self._port is not None:
                try:
                    self._port.close()
                except OSError:
                    pass
        self.connected = False

    def detach(self) -> None:
        """Close the port now, as if the cable were pulled (the emulator's unplug)."""
        with self._wlock:
            port, self._port = self._port, None
            self.connected = False
            if port is not None:
                port.close()

    def attach(self, port) -> None:
        """Give the link a new port (the emulator's replug); restarts the session."""
        with self._wlock:
            self._port = port
            self.connected = True
        self._on_connect()

    def wait_session(self, timeout: float) -> Hello:
        """Block until the peer's HELLO was accepted; :class:`HardwareError` on timeout."""
        if not self._session_ev.wait(timeout):
            raise HardwareError(f"{self.url or 'link'}: no HELLO from the peer within "
                                f"{timeout:g} s (is it connected and running?)")
        return self.peer

    @property
    def in_session(self) -> bool:
        return self._session_ev.is_set()

    @property
    def closed_by_peer(self) -> bool:
        return self._closed_by_peer.is_set()

    # -------------------------------------------------------------- sending
    def send(self, kind, record, t: float, *, block: bool = True,
             timeout: float | None = 1.0) -> bool:
        """Send one message at time ``t`` (s). With nothing queued it is written at once
        from the caller's thread (one thread hand-off less; the port's write timeout
        bounds it); otherwise it is queued behind the others, blocking while the send
        queue is full (back-pressure) up to ``timeout``. Returns False when the message
        was dropped (counted in ``tx_dropped``) or the write failed (``tx_errors``)."""
        with self._lock:
            data = encode_message(self._enc, kind, record, t)
            self.c.messages_sent += 1
            fast = (self.tx_delay_s <= 0 and self.fault is None and self._inflight == 0
                    and self._wlock.acquire(blocking=False))
            if not fast:
                self._inflight += 1       # reserved in seq order: nothing overtakes it
        if fast:
            try:
                self._write_locked(data)
                return True
            except Exception as exc:  # noqa: BLE001 — a failing port: count; rx reconnects
                with self._lock:
                    self.c.tx_errors += 1
                    self.last_error = f"write: {exc}"
                return False
            finally:
                self._wlock.release()
        try:
            self._txq.put((time.monotonic() + self.tx_delay_s, data), block=block,
                          timeout=timeout)
            return True
        except queue.Full:
            with self._lock:
                self._inflight -= 1
                self.c.tx_dropped += 1
            return False

    def flush(self, timeout: float = 1.0) -> bool:
        """Wait until every queued message has been written (or ``timeout`` s); True if
        nothing is left in flight."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._inflight <= 0:
                    return True
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(0.001)

    def _send_now(self, kind, record, t_ns: int) -> None:
        """Encode and queue a control message from the reader thread (never blocks)."""
        with self._lock:
            self._enqueue_locked(encode_message(self._enc, kind, record, t_ns / 1e9))

    def _enqueue_locked(self, data: bytes) -> None:
        self._inflight += 1
        try:
            self._txq.put_nowait((time.monotonic() + self.tx_delay_s, data))
        except queue.Full:
            self._inflight -= 1
            self.c.tx_dropped += 1

    def _write(self, data: bytes) -> None:
        with self._wlock:
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        port = self._port
        if port is None or not self.connected:
            raise OSError(errno.ENODEV, "link is down")
        port.write(data)
        if self.tap is not None:
            self.tap("tx", data)
        with self._lock:
            self.c.frames_sent += data.count(0)
            self.c.bytes_sent += len(data)

    def _writer(self) -> None:
        while not self._stop.is_set():
            try:
                due, data = self._txq.get(timeout=0.05)
            except queue.Empty:
                continue
            wait = due - time.monotonic()
            if wait > 0:                      # an added link latency (fault injection)
                time.sleep(wait)
            if self.fault is not None:
                data = self.fault(data)
            try:
                self._write(data)
            except Exception as exc:  # noqa: BLE001 — any port failure: count, let rx reconnect
                with self._lock:
                    self.c.tx_errors += 1
                    self.last_error = f"write: {exc}"
            finally:
                with self._lock:
                    self._inflight -= 1

    # -------------------------------------------------------------- receiving
    def recv(self, timeout: float | None = None):
        """The next :class:`~xband.hil.messages.Message` or :class:`LinkEvent`, or None
        after ``timeout`` s.

        Inline reception (``inline_rx``, on a port with a file descriptor): a thread
        waiting here reads and decodes the port itself instead of sleeping on the queue
        while the reader thread does it — the bytes' arrival wakes one thread, not two
        (the reader thread, then the consumer through the queue): half the thread
        wake-ups and a quarter less CPU per round trip. The reader thread stands by
        while a consumer is in ``recv`` or was there within ``INLINE_IDLE_S``, and takes
        the port back otherwise (heartbeats, HELLO, reconnection stay its job; a
        consumer runs the same periodic duties while it reads). Order and accounting are
        the same: every message still goes through the queue. Default: on under a
        real-time policy, where it cuts the 1 kHz p99 round trip about 3× (docs/hil.md);
        off under the ordinary scheduler, where on a loaded machine the measured tail
        was worse with it (a thread that only waits and reads is woken sooner by CFS
        than one that also does the consumer's work)."""
        try:
            return self._rxq.get_nowait()
        except queue.Empty:
            pass
        if not self.inline_rx or timeout == 0:
            try:
                return self._rxq.get(timeout=timeout)
            except queue.Empty:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._consumers += 1
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                try:
                    return self._rxq.get_nowait()
                except queue.Empty:
                    pass
                port = self._port
                wait = POLL_MAX_S if left is None else min(left, POLL_MAX_S)
                if self._stop.is_set() or port is None or not self.connected \
                        or raw_fd(port) is None:
                    # the reader thread is reconnecting (or the port has no descriptor)
                    try:
                        return self._rxq.get(timeout=wait)
                    except queue.Empty:
                        continue
                # the reader thread may be reading: it releases the port after its read
                # (delivering what came), then stands by while a consumer is here
                if not self._rlock.acquire(timeout=wait):
                    continue
                try:
                    if self._rxq.empty() and self._port is port and self.connected \
                            and not self._stop.is_set():
                        now = self._clock()
                        wait = self._poll_s(now)
                        self._step(port, wait if left is None else min(wait, left))
                finally:
                    self._rlock.release()
        finally:
            with self._lock:
                self._consumers -= 1
                self._consumer_left = time.monotonic()

    def _deliver(self, item) -> None:
        try:
            self._rxq.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.c.rx_dropped += 1
                self._dropped_since += 1

    def _event(self, kind: str, detail=None) -> None:
        ev = LinkEvent(kind, time.monotonic(), detail)
        try:                              # events are never dropped: make room if needed
            self._rxq.put(ev, timeout=0.5)
        except queue.Full:
            with self._lock:
                self.c.rx_dropped += 1

    def _on_connect(self) -> None:
        with self._rlock, self._lock:
            self._dec.reset()
            self._asm.flush()
            self._session_ev.clear()
            self._closed_by_peer.clear()
            self.peer = None
            self._peer_hb = None
            self._enc.max_payload = MIN_PAYLOAD
            self._last_hello = -10**18
            self._last_rx = self._clock()
        if self.handshake:
            try:
                self._write(b"\x00")
            except OSError:
                pass

    def _poll_s(self, now: int) -> float:
        """How long the reader may wait for bytes: until its next periodic duty (HELLO,
        HEARTBEAT, the silence timeout), at most ``POLL_MAX_S`` (how fast it sees
        ``close``), at least 1 ms. Bytes arriving end the wait at once whatever it is."""
        if not self.handshake:
            return POLL_MAX_S
        if not self._session_ev.is_set():
            due = self._last_hello + HELLO_PERIOD_S * 1e9
        else:
            due = min(self._last_hb + self.heartbeat_s * 1e9,
                      self._last_rx + self.timeout_s * 1e9 + 1e6)
            if self._dropped_since:
                due = min(due, self._last_overrun + 1e9)
        return min(POLL_MAX_S, max(1e-3, (due - now) / 1e9))

    def _read_port(self, port, timeout: float) -> bytes:
        """Bytes from the port: whatever is there, waiting up to ``timeout`` s for the
        first. One ``select`` and one ``read`` on a file descriptor (:func:`raw_fd`);
        pySerial's ``read`` for the other ports. A hung-up port raises ``OSError``."""
        fd = raw_fd(port)
        if fd is None:
            # pySerial's read(n) waits for n bytes or the timeout: ask for what is
            # waiting, or 1 byte (returns as soon as anything arrives), then the rest
            n = port.in_waiting
            data = port.read(n if n > 0 else 1)
            if data and n <= 0:
                more = port.in_waiting
                if more > 0:
                    data += port.read(more)
            return data
        r, _, x = select.select([fd], [], [fd], timeout)
        if not (r or x):
            return b""
        try:
            data = os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        if not data:                      # readable with nothing to read: end of file
            raise OSError(errno.EIO, "port closed (end of file)")
        return data

    def _standby_s(self) -> float:
        """> 0: how long the reader thread leaves the port to a consumer (inline_rx)."""
        if not self.inline_rx:
            return 0.0
        with self._lock:
            inside, left = self._consumers, self._consumer_left
        if inside:
            return POLL_MAX_S
        return max(0.0, left + INLINE_IDLE_S - time.monotonic())

    def _reader(self) -> None:
        while not self._stop.is_set():
            port = self._port
            if port is None or not self.connected:
                self._try_reconnect()
                continue
            standby = self._standby_s()
            if standby > 0 and raw_fd(port) is not None:
                self._stop.wait(standby)
                continue
            with self._rlock:
                if self._port is port and self.connected:
                    self._step(port, min(self._poll_s(self._clock()), POLL_MAX_S))

    def _step(self, port, timeout: float) -> None:
        """Read what the port has (waiting up to ``timeout`` s), decode, dispatch, and do
        the periodic duties. Called with ``_rlock`` held (reader thread or consumer)."""
        try:
            data = self._read_port(port, timeout)
        except Exception as exc:  # noqa: BLE001 — pySerial raises SerialException/OSError
            if not self._stop.is_set():
                self._lost(f"read: {exc}")
            return
        now = self._clock()
        if data:
            if self.tap is not None:
                self.tap("rx", data)
            self._dec.feed(data)
            for frame in self._dec:
                self._last_rx = now
                msg = self._asm.push(frame)
                if msg is not None:
                    self._on_message(msg, now)
        self._periodic(now)

    def _lost(self, why: str) -> None:
        with self._wlock:
            port, self._port = self._port, None
            was = self.connected
            self.connected = False
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001 — closing a dead port may fail any way
                pass
        orderly = self._closed_by_peer.is_set()     # the peer said CLOSE: not a failure
        with self._lock:
            self.last_error = why
            if was and not orderly:
                self.c.disconnects += 1
        if was:
            self._session_ev.clear()
            if not orderly:
                self._event("down", why)

    def _try_reconnect(self) -> None:
        if not (self.reconnect and self.url):
            self._stop.wait(0.05)
            return
        self._stop.wait(self.reconnect_interval_s)
        if self._stop.is_set():
            return
        try:
            port = open_port(self.url, self.baudrate)
        except HardwareError:
            return
        with self._wlock:
            self._port = port
            self.connected = True
        with self._lock:
            self.c.reconnects += 1
        self._on_connect()
        self._event("up", self.url)

    def _periodic(self, now: int) -> None:
        t_ns = now - self._t0
        if not self.handshake:
            return
        if not self._session_ev.is_set():
            if (self.hello.role == Role.HOST and not self._closed_by_peer.is_set()
                    and now - self._last_hello >= HELLO_PERIOD_S * 1e9):
                self._send_hello(False, t_ns)
                self._last_hello = now
            return
        if now - self._last_rx > self.timeout_s * 1e9:
            with self._lock:
                self.c.timeouts += 1
            self._send_now("error", ErrorMessage(ErrorCode.TIMEOUT,
                                                 f"nothing received for {self.timeout_s:g} s"),
                           t_ns)
            self._session_ev.clear()
            self._event("down", "timeout")
            self._last_rx = now
            return
        if now - self._last_hb >= self.heartbeat_s * 1e9:
            hb = (Heartbeat(self._peer_hb[0], now - self._peer_hb[1]) if self._peer_hb
                  else Heartbeat(-1, 0))
            self._send_now("heartbeat", hb, t_ns)
            self._last_hb = now
            with self._lock:
                self.c.heartbeats_sent += 1
        if self._dropped_since and now - self._last_overrun >= 1e9:
            n, self._dropped_since = self._dropped_since, 0
            self._last_overrun = now
            self._send_now("error", ErrorMessage(ErrorCode.OVERRUN,
                                                 f"{n} messages dropped: receive queue full"),
                           t_ns)
            with self._lock:
                self.c.overruns_reported += 1

    def _send_hello(self, reply: bool, t_ns: int) -> None:
        h = self.hello
        hello = Hello(role=h.role, name=h.name, capabilities=h.capabilities,
                      max_payload=h.max_payload, min_version=h.min_version,
                      max_version=h.max_version, reply=reply)
        with self._lock:
            v = self._enc.version
            self._enc.version = 1                 # HELLO frames carry version 1 (§7.2)
            try:
                data = encode_message(self._enc, "hello", hello, t_ns / 1e9)
            finally:
                self._enc.version = v
            self.c.hellos_sent += 1
            self._enqueue_locked(data)

    def _on_message(self, msg: Message, now: int) -> None:
        kind = msg.kind
        t_ns = now - self._t0
        if kind == "hello" and self.handshake:
            peer: Hello = msg.record
            v = negotiate_version(self.hello, peer)
            if v is None:
                self._send_now("error", ErrorMessage(
                    ErrorCode.VERSION_MISMATCH,
                    f"no common version: mine {self.hello.min_version}..{self.hello.max_version},"
                    f" yours {peer.min_version}..{peer.max_version}"), t_ns)
                self._event("error", ErrorMessage(ErrorCode.VERSION_MISMATCH, "no common version"))
                return
            roles = {int(self.hello.role), int(peer.role)}
            if Role.HOST not in roles or len(roles) != 2:
                self._send_now("error", ErrorMessage(
                    ErrorCode.BAD_ROLE, f"roles {int(self.hello.role)} and {int(peer.role)} "
                    "cannot work together"), t_ns)
                self._event("error", ErrorMessage(ErrorCode.BAD_ROLE, "bad role"))
                return
            with self._lock:
                self.peer = peer
                self.version = v
                self._enc.version = v
                self._enc.max_payload = max(MIN_PAYLOAD, min(peer.max_payload, MAX_PAYLOAD))
                if not self._session_ev.is_set():
                    self.c.sessions += 1
            if not peer.reply:
                self._peer_hb = None
                self._send_hello(True, t_ns)
            if not self._session_ev.is_set():
                self._session_ev.set()
                self._closed_by_peer.clear()
                self._event("session", peer)
            return
        if kind == "heartbeat" and self.handshake:
            hb: Heartbeat = msg.record
            with self._lock:
                self.c.heartbeats_received += 1
                self._peer_hb = (round(msg.t * 1e9), now)
                if hb.echo_t_ns >= 0:
                    rtt = (t_ns - hb.echo_t_ns - hb.hold_ns) / 1e9
                    if rtt >= 0:
                        self._rtt.append(rtt)
            return
        if kind == "error" and self.handshake:
            err: ErrorMessage = msg.record
            with self._lock:
                self.c.peer_errors += int(err.code != ErrorCode.CLOSE)
            if err.code == ErrorCode.CLOSE:
                self._closed_by_peer.set()
                self._session_ev.clear()
                self._event("close", err)
            else:
                self._event("error", err)
            return
        if self.handshake and not self._session_ev.is_set():
            # data before the session (PROTOCOL.md §7.1): stale bytes of an earlier session
            # or a peer that skipped the handshake; never handed to the application
            with self._lock:
                self.c.pre_session_discarded += 1
            return
        if kind == "stats":
            self.peer_stats = msg.record
        with self._lock:
            self.c.messages_received += 1
        self._deliver(msg)

    # -------------------------------------------------------------- statistics
    def rtt_samples(self) -> list[float]:
        with self._lock:
            return list(self._rtt)

    def stats(self) -> dict:
        """A snapshot of every counter (thread-safe; valid during and after the run)."""
        with self._lock:
            d = {**self.c.__dict__}
            dec = self._dec.stats.as_dict()
            asm = self._asm.stats()
            rtt = list(self._rtt)
        d["frames_received"] = dec.pop("frames_ok")
        d["bytes_received"] = dec.pop("bytes")
        d.update(dec)
        d["incomplete_messages"] = asm["incomplete_messages"]
        d["bad_payloads"] = asm["bad_payloads"]
        d["rx_queue"] = self._rxq.qsize()
        d["tx_queue"] = self._txq.qsize()
        d.update(rtt_summary(rtt))
        d["rtt_ms"] = {"mean": d["rtt_mean_s"] * 1e3, "max": d["rtt_max_s"] * 1e3}
        return d

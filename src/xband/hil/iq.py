"""Sources of I/Q: one interface delivering timestamped CPIs (``xband.types.Cube``).

:class:`IQSource` is the template (python-can's ``BusABC`` is the model): a subclass
implements ``_read_cpi() -> Cube | None`` (None at the end) and ``_close()``; the base
gives iteration, a context manager, and the counters every source keeps in ``stats``:
``cpis``, ``samples``, ``overflows`` (the device dropped samples), ``timestamp_gaps``
(the device's sample clock jumped), ``timeouts``, ``dropped_cpis`` (CPIs abandoned
because of an overflow or a gap: never delivered with a hole in them).

Sources:

* :class:`CallableSource` — simulated radio: any ``synth(i) -> Cube`` (the scene
  synthesis of the detection chain plugs in here), deterministic, pull-driven;
* :class:`SigmfSource` — replay of a SigMF recording (``xband.io.sigmf``), one CPI at a
  time, never the whole file;
* :class:`SoapySource` — a live SDR through SoapySDR (the ``sdr`` extra; Debian's
  ``python3-soapysdr``): RX stream setup, sample rate, centre frequency and gain per
  channel, timestamps from ``readStream``'s ``timeNs``, overflow and timestamp-gap
  accounting, and TX of a pulse train where the device has a TX channel;
* :class:`ZmqSource` — raw cf32 samples from a ZeroMQ PUB socket, as GNU Radio's
  *ZMQ PUB Sink* publishes them (no tags), so that a flowgraph can feed xband live.

Hardware libraries are imported only when a source is opened; a missing one is a
:class:`~xband.errors.HardwareError` naming what to install. Known traps (docs/hil.md):
Debian's ``python3-soapysdr`` imports only in Debian's own Python (make the venv with
``--system-site-packages`` from ``/usr/bin/python3``); SoapySDR's built-in ``null``
device cannot stream, so tests use a fake device object with the same methods
(``device_factory``).
"""
from __future__ import annotations

import abc

from typing import Callable, Iterator

import numpy as np

from ..errors import ConfigError, HardwareError
from ..types import Cube

__all__ = ["IQSource", "CallableSource", "SigmfSource", "SoapySource", "ZmqSource",
           "CpiShape"]


class CpiShape:
    """How samples make a CPI: ``channels`` names, ``pulses`` per CPI, ``samples`` per
    pulse repetition interval (round(fs/prf)), ``sample_rate_hz``."""

    def __init__(self, channels=("sum",), pulses: int = 64, samples: int = 1000,
                 sample_rate_hz: float = 1e6):
        self.channels = tuple(channels)
        self.pulses = int(pulses)
        self.samples = int(samples)
        self.sample_rate_hz = float(sample_rate_hz)
        if not self.channels or self.pulses < 1 or self.samples < 1 or not sample_rate_hz > 0:
            raise ConfigError(f"CPI shape: channels={self.channels}, pulses={pulses}, "
                              f"samples={samples}, sample_rate_hz={sample_rate_hz}: "
                              "expected ≥ 1 channel, pulses ≥ 1, samples ≥ 1, rate > 0")

    @property
    def per_channel(self) -> int:
        return self.pulses * self.samples

    @property
    def duration_s(self) -> float:
        return self.per_channel / self.sample_rate_hz


class IQSource(abc.ABC):
    """Template of every I/Q source; see the module documentation. A backend implements
    ``_read_cpi`` (and, if it holds resources, ``_close``)."""

    def __init__(self):
        self.stats = {"cpis": 0, "samples": 0, "overflows": 0, "timestamp_gaps": 0,
                      "timeouts": 0, "dropped_cpis": 0}
        self._closed = False

    @abc.abstractmethod
    def _read_cpi(self) -> Cube | None:
        """The next CPI from the backend, or None at its end."""

    def _close(self) -> None:
        pass

    def read(self) -> Cube | None:
        """The next CPI, or None at the end of the source."""
        if self._closed:
            return None
        cube = self._read_cpi()
        if cube is not None:
            self.stats["cpis"] += 1
            self.stats["samples"] += int(cube.data.shape[1] * cube.data.shape[2])
        return cube

    def __iter__(self) -> Iterator[Cube]:
        while (cube := self.read()) is not None:
            yield cube

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CallableSource(IQSource):
    """Simulated radio: CPI ``i`` is ``synth(i)`` for i = 0 … n − 1 (n None: endless)."""

    def __init__(self, synth: Callable[[int], Cube], n: int | None = None):
        super().__init__()
        self.synth = synth
        self.n = n
        self.i = 0

    def _read_cpi(self):
        if self.n is not None and self.i >= self.n:
            return None
        cube = self.synth(self.i)
        self.i += 1
        return cube


class SigmfSource(IQSource):
    """Replay of a SigMF recording (``xband.io.sigmf.read_sigmf``), one CPI per read."""

    def __init__(self, path):
        super().__init__()
        from ..io.sigmf import read_sigmf

        self.recording = read_sigmf(path)
        self.i = 0

    def _read_cpi(self):
        if self.i >= self.recording.n_cpis:
            return None
        cube = self.recording.cube(self.i)
        self.i += 1
        return cube


class _Assembler:
    """Samples (per channel) → CPIs; a hole (overflow, gap) abandons the partial CPI.
    Untimestamped chunks are taken as contiguous: their time counts samples from the
    last timestamp (or from 0)."""

    def __init__(self, shape: CpiShape, stats: dict):
        self.shape = shape
        self.stats = stats
        self.buf = np.empty((len(shape.channels), shape.per_channel), np.complex64)
        self.fill = 0
        self.t0_ns = 0
        self.origin_ns = 0                  # time of the sample count's origin
        self.seen = 0                       # samples since the origin
        self.next_ns: int | None = None     # expected time of the next timestamped sample

    def hole(self) -> None:
        if self.fill:
            self.stats["dropped_cpis"] += 1
        self.fill = 0

    def push(self, chunk: np.ndarray, t_ns: int | None) -> list[Cube]:
        """``chunk`` (channels, n) of samples starting at ``t_ns`` (None: contiguous)."""
        out = []
        fs = self.shape.sample_rate_hz
        n = chunk.shape[1]
        if t_ns is None:
            t_ns = self.origin_ns + round(self.seen * 1e9 / fs)
        else:
            if self.next_ns is not None and abs(t_ns - self.next_ns) > 0.5e9 / fs:
                self.stats["timestamp_gaps"] += 1      # more than half a sample off
                self.hole()
            self.origin_ns, self.seen = t_ns, 0
        k = 0
        while k < n:
            if self.fill == 0:
                self.t0_ns = t_ns + round(k * 1e9 / fs)
            m = min(n - k, self.shape.per_channel - self.fill)
            self.buf[:, self.fill:self.fill + m] = chunk[:, k:k + m]
            self.fill += m
            k += m
            if self.fill == self.shape.per_channel:
                s = self.shape
                data = self.buf.reshape(len(s.channels), s.pulses, s.samples).copy()
                out.append(Cube(data=data, t=self.t0_ns / 1e9, channels=s.channels))
                self.fill = 0
        self.seen += n
        self.next_ns = self.origin_ns + round(self.seen * 1e9 / fs)
        return out


class SoapySource(IQSource):
    """A live SDR through SoapySDR.

    ``args``: the device string (``"driver=rtlsdr"``, ``"driver=uhd,serial=…"``) or dict.
    ``shape``: the CPI layout (its ``sample_rate_hz`` is set on the device); one RX channel
    per CPI channel (``rx_channels``, default 0, 1, …). ``center_hz``, ``gain_db``: set on
    every RX channel. ``device_factory(args)``: returns the device object (default
    ``SoapySDR.Device``); tests pass a fake with the same methods and constants module.
    """

    def __init__(self, args, shape: CpiShape, *, center_hz: float, gain_db: float | None = None,
                 rx_channels=None, chunk: int = 8192, timeout_s: float = 0.5,
                 device_factory: Callable | None = None, soapy=None):
        super().__init__()
        self.soapy = soapy or _import_soapy()
        self.shape = shape
        self.chans = list(rx_channels if rx_channels is not None else range(len(shape.channels)))
        if len(self.chans) != len(shape.channels):
            raise ConfigError(f"SoapySource: {len(self.chans)} RX channels for "
                              f"{len(shape.channels)} CPI channels {shape.channels}")
        S = self.soapy
        factory = device_factory or S.Device
        try:
            self.dev = factory(args)
        except Exception as exc:  # noqa: BLE001 — SoapySDR raises RuntimeError and others
            raise HardwareError(f"SoapySDR {args!r}: cannot open the device: {exc}") from None
        for c in self.chans:
            self.dev.setSampleRate(S.SOAPY_SDR_RX, c, shape.sample_rate_hz)
            self.dev.setFrequency(S.SOAPY_SDR_RX, c, float(center_hz))
            if gain_db is not None:
                self.dev.setGain(S.SOAPY_SDR_RX, c, float(gain_db))
        self.stream = self.dev.setupStream(S.SOAPY_SDR_RX, S.SOAPY_SDR_CF32, self.chans)
        self.dev.activateStream(self.stream)
        self.chunk = int(chunk)
        self.timeout_us = int(timeout_s * 1e6)
        self._bufs = [np.empty(self.chunk, np.complex64) for _ in self.chans]
        self._asm = _Assembler(shape, self.stats)
        self._ready: list[Cube] = []
        self._tx = None

    def _read_cpi(self):
        S = self.soapy
        misses = 0
        while not self._ready:
            sr = self.dev.readStream(self.stream, self._bufs, self.chunk,
                                     timeoutUs=self.timeout_us)
            ret = int(sr.ret)
            if ret == S.SOAPY_SDR_OVERFLOW:
                self.stats["overflows"] += 1
                self._asm.hole()
                self._asm.next_ns = None       # the gap is this overflow's, not another
                continue
            if ret == S.SOAPY_SDR_TIMEOUT or ret == 0:
                self.stats["timeouts"] += 1
                misses += 1
                if misses >= 3:
                    return None            # the stream stopped: end of the source
                continue
            if ret < 0:
                raise HardwareError(f"SoapySDR readStream failed: {S.errToStr(ret)} ({ret})")
            misses = 0
            has_time = bool(int(sr.flags) & S.SOAPY_SDR_HAS_TIME)
            chunk = np.stack([b[:ret] for b in self._bufs])
            self._ready += self._asm.push(chunk, int(sr.timeNs) if has_time else None)
        return self._ready.pop(0)

    def transmit(self, pulse_train: np.ndarray, *, tx_channel: int = 0,
                 at_ns: int | None = None) -> int:
        """Send a pulse train (complex64 samples) once on ``tx_channel``, at device time
        ``at_ns`` if given; :class:`HardwareError` if the device has no TX channel."""
        S = self.soapy
        if self.dev.getNumChannels(S.SOAPY_SDR_TX) <= tx_channel:
            raise HardwareError("SoapySDR: this device has no TX channel "
                                f"{tx_channel} (receive-only)")
        if self._tx is None:
            self.dev.setSampleRate(S.SOAPY_SDR_TX, tx_channel, self.shape.sample_rate_hz)
            self._tx = self.dev.setupStream(S.SOAPY_SDR_TX, S.SOAPY_SDR_CF32, [tx_channel])
            self.dev.activateStream(self._tx)
        x = np.ascontiguousarray(pulse_train, np.complex64)
        flags = S.SOAPY_SDR_END_BURST | (S.SOAPY_SDR_HAS_TIME if at_ns is not None else 0)
        sr = self.dev.writeStream(self._tx, [x], len(x), flags, at_ns or 0,
                                  timeoutUs=self.timeout_us)
        if int(sr.ret) < 0:
            raise HardwareError(f"SoapySDR writeStream failed: {S.errToStr(int(sr.ret))}")
        return int(sr.ret)

    def _close(self) -> None:
        for st in (self.stream, self._tx):
            if st is not None:
                try:
                    self.dev.deactivateStream(st)
                finally:
                    self.dev.closeStream(st)


def _import_soapy():
    try:
        import SoapySDR
    except ImportError:
        raise HardwareError(
            "SoapySDR is not importable: install the 'sdr' extra (pip install xband[sdr]) or "
            "the system package python3-soapysdr — on Debian/Ubuntu it imports only in the "
            "system Python: create the venv with /usr/bin/python3 -m venv "
            "--system-site-packages") from None
    return SoapySDR


class ZmqSource(IQSource):
    """Raw cf32 samples from a ZeroMQ PUB socket (GNU Radio *ZMQ PUB Sink*, complex
    items, "pass tags" off): each message is a whole number of complex64 samples; with
    several channels they are interleaved sample by sample. No timestamps travel, so
    the time of a CPI is its first sample's index / fs from the first sample received.
    Ends after ``idle_timeout_s`` without a message. ``context``: a ``zmq.Context``."""

    def __init__(self, address: str, shape: CpiShape, *, idle_timeout_s: float = 2.0,
                 context=None):
        super().__init__()
        try:
            import zmq
        except ImportError:
            raise HardwareError("ZmqSource needs pyzmq: pip install pyzmq") from None
        self.zmq = zmq
        self.shape = shape
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.setsockopt(zmq.RCVTIMEO, int(idle_timeout_s * 1000))
        self.sock.setsockopt(zmq.LINGER, 0)
        try:
            self.sock.connect(address)
        except zmq.ZMQError as exc:
            self.sock.close()
            raise HardwareError(f"ZMQ {address}: cannot connect: {exc}") from None
        self.address = address
        self._asm = _Assembler(shape, self.stats)
        self._ready: list[Cube] = []
        self._rest = b""
        self.stats["messages"] = 0
        self.stats["bad_messages"] = 0

    def _read_cpi(self):
        nch = len(self.shape.channels)
        item = 8 * nch
        while not self._ready:
            try:
                msg = self.sock.recv(copy=True)
            except self.zmq.Again:
                self.stats["timeouts"] += 1
                return None
            self.stats["messages"] += 1
            data = self._rest + msg
            whole = len(data) // item * item
            if whole != len(data):
                self.stats["bad_messages"] += int(not self._rest)
            self._rest = data[whole:]
            x = np.frombuffer(data[:whole], np.complex64).reshape(-1, nch).T
            self._ready += self._asm.push(np.ascontiguousarray(x), None)
        return self._ready.pop(0)

    def _close(self) -> None:
        self.sock.close()

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
  *ZMQ PUB Sink* publishes them (no tags), so that a flowgraph can feed xband live;
* :class:`PlutoSource` — an ADALM-Pluto through pyadi-iio where SoapySDR is not
  installed (no device timestamps: host time at buffer return).

:func:`open_sdr` turns an ``xband hil --sdr`` string into one of them.

Hardware libraries are imported only when a source is opened; a missing one is a
:class:`~xband.errors.HardwareError` naming what to install. Known traps (docs/hil.md):
Debian's ``python3-soapysdr`` imports only in Debian's own Python (make the venv with
``--system-site-packages`` from ``/usr/bin/python3``); SoapySDR's built-in ``null``
device cannot stream, so tests use a fake device object with the same methods
(``device_factory``); pyadi-iio needs a libiio Python binding matching the system
libiio library (the error says how to check and fix it).
"""
from __future__ import annotations

import abc

from typing import Callable, Iterator

import numpy as np

from ..errors import ConfigError, HardwareError
from ..types import Cube

__all__ = ["IQSource", "CallableSource", "SigmfSource", "SoapySource", "ZmqSource",
           "PlutoSource", "CpiShape", "parse_sdr_args", "open_sdr"]


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
    """Replay of a SigMF recording (``xband.io.sigmf.read_sigmf``), one CPI per read.
    ``pointing``: the beam (az, el) of the CPI last read (its ``xband:pointing_rad``
    annotation, else the recording's global one); ``center_hz``: the recording's
    carrier."""

    def __init__(self, path):
        super().__init__()
        from ..io.sigmf import read_sigmf

        self.recording = read_sigmf(path)
        self.center_hz = float(self.recording.params.carrier_hz)
        self.pointing = tuple(self.recording.pointing)
        self.i = 0

    def _read_cpi(self):
        if self.i >= self.recording.n_cpis:
            return None
        rec = self.recording
        cube = rec.cube(self.i)
        self.pointing = tuple(rec.pointing_of(self.i))      # the beam of this CPI
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


# ------------------------------------------------------------------ PlutoSDR (pyadi-iio)
#: the AXI AD9361 ADC status register seen through ``adi.Pluto()._rxadc.reg_read``: bit 2
#: is the RX FIFO overflow, cleared by writing the value back (ADI's HDL register map;
#: ADI's own pyadi-iio tests read it this way). Best effort: absent on other firmware.
PLUTO_STATUS_REG = 0x80000088
PLUTO_OVERFLOW_BIT = 0x4


class PlutoSource(IQSource):
    """An ADALM-Pluto (AD936x) through pyadi-iio, for machines without SoapySDR.

    ``uri``: the libiio context (``"ip:192.168.2.1"``, ``"usb:1.2.5"``, ``"ip:pluto.local"``).
    ``shape``: the CPI layout; ``rx_buffer_size`` is set to samples per CPI, so one
    ``rx()`` is one CPI. Channels: ``rx_enabled_channels`` = ``rx_channels`` (default 0,
    1, … one per CPI channel). pyadi-iio's ``adi.Pluto`` is an AD9364 (one complex RX
    channel, only ``*_chan0`` properties), so channel 0 alone opens ``adi.Pluto``; two
    channels (or channel 1) open ``adi.ad9361`` on the same URI (2R2T: ``*_chan0`` and
    ``*_chan1``), which needs a Pluto rev C/D switched to 2R2T (``fw_setenv attr_name
    compatible``, ``fw_setenv attr_val ad9361``, ``fw_setenv compatible ad9361``,
    ``fw_setenv mode 2r2t``, reboot); more than two channels, or a channel other than
    0/1, is a ConfigError naming ``--channels``. ``center_hz`` → ``rx_lo``,
    ``shape.sample_rate_hz`` → ``sample_rate``, ``rf_bandwidth_hz`` (default the sample
    rate) → ``rx_rf_bandwidth``; ``gain_db`` None → ``gain_control_mode_chanN =
    "slow_attack"`` (AGC), else ``"manual"`` and ``rx_hardwaregain_chanN``.
    Samples are returned scaled to full scale 1.0 (pyadi-iio gives the 12-bit ADC codes:
    ``full_scale`` = 2048).

    Timestamps: the Pluto has none. A CPI's ``t`` is the **host monotonic time at the
    buffer's return** (s since the source opened) — it includes USB/network and kernel
    buffering delay, so it is late by up to a few buffers and jitters by milliseconds.
    Accounting: ``overflows`` from the ADC's FIFO-overflow status bit when the firmware
    exposes it (``PLUTO_STATUS_REG``; a CPI during which it was set is dropped, never
    delivered with a hole); ``late_buffers`` counts returns more than two CPI durations
    after the previous one (the host fell behind: with libiio's kernel buffers this is
    not always a loss, so it is not a ``timestamp_gap``). ``adi``: the module (tests
    pass a fake with the same attributes).
    """

    def __init__(self, uri: str, shape: CpiShape, *, center_hz: float,
                 gain_db: float | None = None, rf_bandwidth_hz: float | None = None,
                 rx_channels=None, full_scale: float = 2048.0, adi=None,
                 clock: Callable[[], int] = None):
        super().__init__()
        import time as _time

        self.adi = adi or _import_adi()
        self.shape = shape
        self.uri = uri
        self.chans = list(rx_channels if rx_channels is not None else range(len(shape.channels)))
        if len(self.chans) != len(shape.channels):
            raise ConfigError(f"PlutoSource: {len(self.chans)} RX channels for "
                              f"{len(shape.channels)} CPI channels {shape.channels}")
        if len(self.chans) > 2 or len(set(self.chans)) != len(self.chans) or \
                any(c not in (0, 1) for c in self.chans):
            raise ConfigError(
                f"--channels: a PlutoSDR (AD936x) receives on RX channels 0 and 1 at most "
                f"(two only in 2R2T mode); {len(shape.channels)} CPI channel(s) "
                f"{','.join(shape.channels)} on RX channel(s) {self.chans}")
        # adi.Pluto is pyadi-iio's ad9364 (1R1T: chan0 only); chan1 needs its ad9361 class
        self.two = self.chans != [0]
        cls_name = "ad9361" if self.two else "Pluto"
        hint = (" (RX channel 1 needs a Pluto rev C/D in 2R2T mode: fw_setenv attr_name "
                "compatible; fw_setenv attr_val ad9361; fw_setenv compatible ad9361; "
                "fw_setenv mode 2r2t; reboot)" if self.two else "")
        self._hint = hint
        try:
            self.dev = getattr(self.adi, cls_name)(uri=uri)
        except Exception as exc:  # noqa: BLE001 — libiio raises OSError/ConnectionError/…
            raise HardwareError(f"PlutoSDR {uri!r}: cannot open the device as adi."
                                f"{cls_name}: {exc} (is it plugged in and reachable? try "
                                f"`iio_info -u URI`){hint}") from None
        d = self.dev
        try:
            d.rx_enabled_channels = list(self.chans)
            d.sample_rate = int(round(shape.sample_rate_hz))
            d.rx_rf_bandwidth = int(round(rf_bandwidth_hz or shape.sample_rate_hz))
            d.rx_lo = int(round(center_hz))
            for c in self.chans:
                if gain_db is None:
                    setattr(d, f"gain_control_mode_chan{c}", "slow_attack")
                else:
                    setattr(d, f"gain_control_mode_chan{c}", "manual")
                    setattr(d, f"rx_hardwaregain_chan{c}", float(gain_db))
            d.rx_buffer_size = shape.per_channel
        except Exception as exc:  # noqa: BLE001 — an attribute the device refused
            raise HardwareError(f"PlutoSDR {uri!r}: cannot configure RX ({exc}){hint}") \
                from None
        self.scale = 1.0 / float(full_scale)
        self._clock = clock or _time.monotonic_ns
        self._t0 = self._clock()
        self._last_ns: int | None = None
        self._tx_cyclic = False
        self.stats["late_buffers"] = 0
        self.stats["overflow_flag"] = self._status_readable()
        self._clear_overflow()

    # the ADC status register (best effort: the register read is not public API)
    def _status_readable(self) -> bool:
        rxadc = getattr(self.dev, "_rxadc", None)
        return rxadc is not None and hasattr(rxadc, "reg_read") and hasattr(rxadc, "reg_write")

    def _overflowed(self) -> bool:
        if not self.stats["overflow_flag"]:
            return False
        try:
            v = int(self.dev._rxadc.reg_read(PLUTO_STATUS_REG))
            if v & PLUTO_OVERFLOW_BIT:
                self.dev._rxadc.reg_write(PLUTO_STATUS_REG, v)       # write 1 to clear
                return True
        except Exception:  # noqa: BLE001 — register access refused: stop trying
            self.stats["overflow_flag"] = False
        return False

    def _clear_overflow(self) -> None:
        self._overflowed()

    def _read_cpi(self):
        s = self.shape
        while True:
            try:
                x = self.dev.rx()
            except Exception as exc:  # noqa: BLE001 — libiio: TimeoutError, OSError, …
                if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
                    self.stats["timeouts"] += 1
                    return None
                raise HardwareError(f"PlutoSDR {self.uri!r}: rx() failed: {exc}"
                                    f"{self._hint}") from None
            now = self._clock()
            period_ns = s.duration_s * 1e9
            if self._last_ns is not None and now - self._last_ns > 2 * period_ns:
                self.stats["late_buffers"] += 1
            self._last_ns = now
            rows = [x] if len(self.chans) == 1 and not isinstance(x, (list, tuple)) else list(x)
            if len(rows) != len(self.chans) or any(len(r) != s.per_channel for r in rows):
                raise HardwareError(
                    f"PlutoSDR {self.uri!r}: rx() gave {len(rows)} channel(s) of "
                    f"{[len(r) for r in rows]} samples, expected {len(self.chans)} of "
                    f"{s.per_channel} (rx_buffer_size not applied?)")
            if self._overflowed():
                self.stats["overflows"] += 1
                self.stats["dropped_cpis"] += 1
                continue
            data = (np.stack([np.asarray(r) for r in rows]) * self.scale).astype(np.complex64)
            return Cube(data=data.reshape(len(self.chans), s.pulses, s.samples),
                        t=(now - self._t0) / 1e9, channels=s.channels)

    def transmit(self, pulse_train: np.ndarray, *, cyclic: bool = True,
                 tx_lo_hz: float | None = None, attenuation_db: float | None = None,
                 full_scale: float = 2.0 ** 14) -> int:
        """Send a pulse train (complex samples, |x| ≤ 1) on TX channel 0: repeated
        (``tx_cyclic_buffer``, the pulse train of a radar) or once. ``tx_lo_hz``: TX LO
        (default the RX LO); ``attenuation_db`` ≥ 0 → ``tx_hardwaregain_chan0`` = −dB.
        Scaled to the DAC's ``full_scale`` (pyadi-iio's convention: 2¹⁴). A cyclic
        buffer is replaced by destroying the old one first (libiio cannot refill it).
        :class:`HardwareError` if the device has no TX."""
        d = self.dev
        if not hasattr(d, "tx"):
            raise HardwareError(f"PlutoSDR {self.uri!r}: this device has no TX (receive-only)")
        x = np.asarray(pulse_train, np.complex128).ravel()
        if x.size == 0 or not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1.0 + 1e-6:
            raise ConfigError("PlutoSource.transmit: the pulse train must be non-empty, "
                              "finite, with |x| ≤ 1 (full scale)")
        try:
            if self._tx_cyclic and hasattr(d, "tx_destroy_buffer"):
                d.tx_destroy_buffer()
            d.tx_lo = int(round(tx_lo_hz if tx_lo_hz is not None else d.rx_lo))
            if attenuation_db is not None:
                d.tx_hardwaregain_chan0 = -abs(float(attenuation_db))
            d.tx_enabled_channels = [0]
            d.tx_cyclic_buffer = bool(cyclic)
            d.tx(x * full_scale)
        except Exception as exc:  # noqa: BLE001
            raise HardwareError(f"PlutoSDR {self.uri!r}: tx() failed: {exc}") from None
        self._tx_cyclic = bool(cyclic)
        return int(x.size)

    def _close(self) -> None:
        d = self.dev
        for name in ("tx_destroy_buffer", "rx_destroy_buffer"):
            fn = getattr(d, name, None)
            if fn is not None and (name != "tx_destroy_buffer" or self._tx_cyclic):
                try:
                    fn()
                except Exception:  # noqa: BLE001 — closing a gone device
                    pass


def _import_adi():
    try:
        import adi
    except ImportError as exc:
        if getattr(exc, "name", None) in ("adi", None) and "iio" not in str(exc):
            raise HardwareError(
                "PlutoSDR needs pyadi-iio: pip install pyadi-iio (the 'sdr' extra), which "
                "also needs the system libiio (apt install libiio0 / libiio-utils)") from None
        raise HardwareError(_ADI_MISMATCH.format(exc=exc)) from None
    except (OSError, AttributeError) as exc:          # libiio.so missing or of another ABI
        raise HardwareError(_ADI_MISMATCH.format(exc=exc)) from None
    return adi


_ADI_MISMATCH = (
    "pyadi-iio is installed but its libiio binding does not load ({exc}): the Python "
    "'pylibiio' binding must match the system libiio library — check `iio_info -V`, then "
    "pip install 'pylibiio==<that major.minor>' (libiio 0.2x ↔ pylibiio 0.2x; libiio 1.x "
    "needs pyadi-iio ≥ 0.0.17), or install the system package python3-libiio and create "
    "the venv with --system-site-packages")


# ------------------------------------------------------------------ --sdr strings
def parse_sdr_args(spec: str) -> dict:
    """A SoapySDR-style device string ``"key=value,key=value"`` → dict (values keep
    their ``=`` and ``:``, e.g. ``uri=ip:192.168.2.1``). A bare ``tcp://``/``ipc://``
    address becomes ``{"driver": "zmq", "address": …}``; a bare ``*.sigmf-meta`` /
    ``*.sigmf-data`` path ``{"driver": "sigmf", "path": …}``."""
    spec = str(spec).strip()
    if not spec:
        raise ConfigError("--sdr: empty device string (e.g. driver=rtlsdr, "
                          "driver=pluto,uri=ip:192.168.2.1, tcp://127.0.0.1:5555)")
    if spec.split("://", 1)[0] in ("tcp", "ipc", "inproc", "epgm", "pgm") and "://" in spec:
        return {"driver": "zmq", "address": spec}
    if spec.endswith((".sigmf-meta", ".sigmf-data")) and "=" not in spec:
        return {"driver": "sigmf", "path": spec}
    out = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--sdr {spec!r}: {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def open_sdr(spec: str, shape: CpiShape | None, *, center_hz: float = 1e9,
             gain_db: float | None = None, idle_timeout_s: float = 2.0) -> IQSource:
    """Open the I/Q source a ``--sdr`` string names:

    * ``driver=pluto[,uri=ip:192.168.2.1]`` → :class:`PlutoSource` (pyadi-iio; for
      SoapyPlutoSDR write ``driver=plutosdr``, which goes to SoapySDR);
    * ``driver=zmq,address=tcp://host:port`` or a bare ``tcp://host:port`` →
      :class:`ZmqSource` (GNU Radio ZMQ PUB sink);
    * ``driver=sigmf,path=FILE`` or a bare ``FILE.sigmf-meta`` → :class:`SigmfSource`
      (``shape`` ignored: the recording has its own);
    * anything else → :class:`SoapySource` with the string unchanged.
    """
    kw = parse_sdr_args(spec)
    driver = kw.get("driver", "").lower()
    if driver == "sigmf":
        if not kw.get("path"):
            raise ConfigError(f"--sdr {spec!r}: driver=sigmf needs path=FILE.sigmf-meta")
        return SigmfSource(kw["path"])
    if shape is None:
        raise ConfigError(f"--sdr {spec!r}: a live source needs the CPI shape")
    if driver == "zmq":
        if not kw.get("address"):
            raise ConfigError(f"--sdr {spec!r}: driver=zmq needs address=tcp://host:port")
        return ZmqSource(kw["address"], shape, idle_timeout_s=idle_timeout_s)
    if driver == "pluto":
        return PlutoSource(kw.get("uri", "ip:192.168.2.1"), shape, center_hz=center_hz,
                           gain_db=gain_db)
    return SoapySource(spec, shape, center_hz=center_hz, gain_db=gain_db)

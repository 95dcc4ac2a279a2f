"""I/Q sources (xband.hil.iq): the SoapySDR path against a fake device object with the
same methods (SoapySDR's null device cannot stream), ZeroMQ SUB of raw cf32 from a real
PUB socket on loopback (as GNU Radio publishes), SigMF replay and the simulated source."""
from __future__ import annotations

import time
import types

import numpy as np
import pytest

from xband.errors import ConfigError, HardwareError
from xband.hil.iq import CallableSource, CpiShape, SigmfSource, SoapySource, ZmqSource
from xband.types import Cube


def tone(start: int, n: int, nch: int) -> np.ndarray:
    """Sample k of channel c: (k + 1j·c) — every sample identifies itself."""
    k = np.arange(start, start + n, dtype=np.float32)
    return np.stack([(k + 1j * c).astype(np.complex64) for c in range(nch)])


def fake_soapy(script):
    """A SoapySDR-like module whose Device plays ``script``: a list of ("data", n),
    ("overflow",), ("jump", n_samples) and ("timeout",) steps."""
    S = types.SimpleNamespace(SOAPY_SDR_RX=1, SOAPY_SDR_TX=0, SOAPY_SDR_CF32="CF32",
                              SOAPY_SDR_OVERFLOW=-4, SOAPY_SDR_TIMEOUT=-1,
                              SOAPY_SDR_HAS_TIME=1 << 2, SOAPY_SDR_END_BURST=1 << 1,
                              errToStr=lambda r: f"error {r}")
    fs = 1e6

    class Device:
        def __init__(self, args):
            self.args, self.calls, self.pos, self.steps = args, [], 0, list(script)
            self.sent = []
            self.tx_channels = 1

        def setSampleRate(self, d, c, r):
            self.calls.append(("rate", d, c, r))

        def setFrequency(self, d, c, f):
            self.calls.append(("freq", d, c, f))

        def setGain(self, d, c, g):
            self.calls.append(("gain", d, c, g))

        def setupStream(self, d, fmt, chans):
            self.calls.append(("setup", d, fmt, tuple(chans)))
            return (d, tuple(chans))

        def activateStream(self, st):
            self.calls.append(("activate", st))

        def deactivateStream(self, st):
            self.calls.append(("deactivate", st))

        def closeStream(self, st):
            self.calls.append(("close", st))

        def getNumChannels(self, d):
            return self.tx_channels if d == S.SOAPY_SDR_TX else 2

        def readStream(self, st, bufs, n, timeoutUs=0):
            if not self.steps:
                return types.SimpleNamespace(ret=S.SOAPY_SDR_TIMEOUT, flags=0, timeNs=0)
            step = self.steps.pop(0)
            if step[0] == "overflow":
                self.pos += 500                       # the device lost samples
                return types.SimpleNamespace(ret=S.SOAPY_SDR_OVERFLOW, flags=0, timeNs=0)
            if step[0] == "timeout":
                return types.SimpleNamespace(ret=S.SOAPY_SDR_TIMEOUT, flags=0, timeNs=0)
            if step[0] == "jump":
                self.pos += step[1]
                step = ("data", n)
            m = min(step[1], n)
            x = tone(self.pos, m, len(bufs))
            for b, row in zip(bufs, x):
                b[:m] = row
            t_ns = round(self.pos * 1e9 / fs)
            self.pos += m
            return types.SimpleNamespace(ret=m, flags=S.SOAPY_SDR_HAS_TIME, timeNs=t_ns)

        def writeStream(self, st, bufs, n, flags, t_ns, timeoutUs=0):
            self.sent.append((bufs[0][:n].copy(), flags, t_ns))
            return types.SimpleNamespace(ret=n, flags=0)

    S.Device = Device
    return S


SHAPE = CpiShape(channels=("sum", "daz"), pulses=4, samples=100, sample_rate_hz=1e6)


def test_soapy_stream_cpis_timestamps_overflow_and_gap_accounting():
    script = [("data", 300)] * 3 + [("overflow",)] + [("data", 250)] * 7 + \
             [("jump", 1000)] + [("data", 400)] * 4
    S = fake_soapy(script)
    with SoapySource("driver=fake", SHAPE, center_hz=2.4e9, gain_db=30, chunk=512,
                     soapy=S) as src:
        dev = src.dev
        cubes = list(src)
        stats = dict(src.stats)
    assert ("freq", 1, 0, 2.4e9) in dev.calls and ("gain", 1, 1, 30.0) in dev.calls
    assert ("setup", 1, "CF32", (0, 1)) in dev.calls and ("deactivate", (1, (0, 1))) in dev.calls
    assert stats["overflows"] == 1 and stats["timestamp_gaps"] == 1
    assert stats["dropped_cpis"] == 2 and stats["cpis"] == len(cubes) >= 5
    for c in cubes:                 # every CPI whole and contiguous, timed by its sample 0
        assert isinstance(c, Cube) and c.data.shape == (2, 4, 100)
        k0 = int(c.data[0, 0, 0].real)
        np.testing.assert_array_equal(c.data.reshape(2, -1), tone(k0, 400, 2))
        assert c.t == pytest.approx(k0 / 1e6, abs=1e-12)
        assert c.channels == ("sum", "daz")


def test_soapy_transmit_and_receive_only_device():
    S = fake_soapy([("data", 400)])
    src = SoapySource("driver=fake", SHAPE, center_hz=1e9, soapy=S)
    pulse = np.exp(1j * np.linspace(0, 3, 50)).astype(np.complex64)
    assert src.transmit(pulse, at_ns=5_000) == 50
    x, flags, t_ns = src.dev.sent[0]
    np.testing.assert_array_equal(x, pulse)
    assert flags & S.SOAPY_SDR_HAS_TIME and t_ns == 5_000
    src.dev.tx_channels = 0
    src._tx = None
    with pytest.raises(HardwareError, match="no TX channel"):
        src.transmit(pulse)
    src.close()


def test_soapy_missing_library_names_the_trap(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_soapy(name, *a, **k):
        if name == "SoapySDR":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_soapy)
    with pytest.raises(HardwareError, match="system-site-packages"):
        SoapySource("driver=rtlsdr", SHAPE, center_hz=1e9)


def test_zmq_sub_of_raw_cf32_like_gnuradio():
    zmq = pytest.importorskip("zmq")
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    shape = CpiShape(channels=("sum",), pulses=4, samples=100, sample_rate_hz=1e6)
    src = ZmqSource(f"tcp://127.0.0.1:{port}", shape, idle_timeout_s=0.5, context=ctx)
    try:
        time.sleep(0.3)                                    # ZMQ's slow joiner
        k = 0
        for n in (123, 700, 1, 376, 1200):                 # not aligned to CPIs
            pub.send(tone(k, n, 1)[0].tobytes())
            k += n
        cubes = list(src)
    finally:
        src.close()
        pub.close()
        ctx.term()
    assert len(cubes) == k // 400 == 6 and src.stats["messages"] == 5
    for i, c in enumerate(cubes):
        np.testing.assert_array_equal(c.data.reshape(-1), tone(400 * i, 400, 1)[0])
        assert c.t == pytest.approx(400 * i / 1e6)
    assert src.stats["timeouts"] == 1


def test_callable_source_and_sigmf_replay(tmp_path):
    def synth(i):
        return Cube(data=tone(400 * i, 400, 1).reshape(1, 4, 100), t=i * 4e-4)

    src = CallableSource(synth, n=3)
    cubes = list(src)
    assert [c.t for c in cubes] == [0.0, 4e-4, 8e-4] and src.stats["cpis"] == 3
    pytest.importorskip("sigmf")
    from xband.io.sigmf import write_sigmf
    from xband.radar.params import RadarParams

    p = RadarParams(sample_rate_hz=1e6, prf_hz=1e4, pulses_per_cpi=4, pulse_width_s=1e-6,
                    bandwidth_hz=5e5)
    cubes = [Cube(data=tone(400 * i, 400, 1).reshape(1, 4, 100), t=i * 4e-4)
             for i in range(3)]
    meta = write_sigmf(tmp_path / "rec", cubes, p)
    with SigmfSource(meta) as s:
        back = list(s)
    assert len(back) == 3
    for a, b in zip(cubes, back):
        np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------------------ PlutoSDR (pyadi-iio)
def fake_adi(n_cpis: int = 3, overflow_on=(), nch: int = 1):
    """A pyadi-iio-like module, as strict as pyadi-iio: ``Pluto(uri)`` is its ad9364
    (one complex RX channel: only ``*_chan0`` properties, ``rx_enabled_channels`` ⊆ [0])
    and ``ad9361(uri)`` the 2R2T part (``*_chan0`` and ``*_chan1``, channels ⊆ [0, 1]);
    setting any other attribute is an AttributeError (a real pyadi-iio object would
    silently grow a plain attribute, which is what these fakes must catch). ``rx()``
    returns ADC codes (complex, ±2048 full scale) of ``tone`` — a single array for one
    channel, a list for two, as pyadi-iio does — ``tx()`` records what it sends, and the
    AXI ADC status register is behind ``_rxadc`` (overflow bit 2 set on the reads in
    ``overflow_on``, write-1-to-clear)."""

    class RxAdc:
        def __init__(self):
            self.reg, self.writes = 0, []

        def reg_read(self, addr):
            assert addr == 0x80000088
            return self.reg

        def reg_write(self, addr, v):
            self.writes.append((addr, v))
            self.reg &= ~v

    class Pluto:                    # adi.Pluto: ad9364, 1R1T
        n_rx = 1
        chan_props = ("gain_control_mode_chan0", "rx_hardwaregain_chan0",
                      "tx_hardwaregain_chan0")
        common = {"uri", "k", "sent", "destroyed", "_rxadc", "rx_lo", "tx_lo",
                  "sample_rate", "rx_rf_bandwidth", "tx_rf_bandwidth", "rx_buffer_size",
                  "rx_enabled_channels", "tx_enabled_channels", "tx_cyclic_buffer"}

        def __init__(self, uri):
            self.uri, self.k, self.sent, self.destroyed = uri, 0, [], []
            self._rxadc = RxAdc()
            self.rx_lo = 0

        def __setattr__(self, name, value):
            if name not in self.common and name not in self.chan_props:
                raise AttributeError(f"{type(self).__name__} has no property {name!r}")
            if name == "rx_enabled_channels" and any(
                    not 0 <= c < self.n_rx for c in value):
                raise IndexError(f"rx_enabled_channels {value}: {self.n_rx} RX channel(s)")
            object.__setattr__(self, name, value)

        def rx(self):
            assert len(self.rx_enabled_channels) == nch
            if self.k >= n_cpis:
                raise TimeoutError("[Errno 110] Connection timed out")
            n = self.rx_buffer_size
            x = tone(self.k * n, n, nch).astype(np.complex128) * 2048.0
            if self.k in overflow_on:
                self._rxadc.reg |= 0x4
            self.k += 1
            return x[0] if nch == 1 else [x[c] for c in range(nch)]

        def tx(self, x):
            self.sent.append((np.array(x), self.tx_cyclic_buffer))

        def tx_destroy_buffer(self):
            self.destroyed.append("tx")

        def rx_destroy_buffer(self):
            self.destroyed.append("rx")

    class AD9361(Pluto):            # adi.ad9361: 2R2T
        n_rx = 2
        chan_props = Pluto.chan_props + ("gain_control_mode_chan1", "rx_hardwaregain_chan1",
                                         "tx_hardwaregain_chan1")

    return types.SimpleNamespace(Pluto=Pluto, ad9361=AD9361)


def test_pluto_configures_receives_cpis_and_counts_overflows():
    from xband.hil.iq import PlutoSource

    shape = CpiShape(channels=("sum", "daz"), pulses=4, samples=100, sample_rate_hz=1e6)
    clock = iter(range(0, 10**10, 10**6)).__next__          # 1 ms per call
    src = PlutoSource("usb:1.2.5", shape, center_hz=2.4e9, adi=fake_adi(4, (1,), nch=2),
                      clock=clock)
    d = src.dev
    assert type(d).__name__ == "AD9361"                       # adi.Pluto has no chan1
    assert (d.uri, d.rx_lo, d.sample_rate, d.rx_rf_bandwidth) == ("usb:1.2.5", 2_400_000_000,
                                                                  1_000_000, 1_000_000)
    assert d.rx_enabled_channels == [0, 1] and d.rx_buffer_size == 400
    assert d.gain_control_mode_chan0 == d.gain_control_mode_chan1 == "slow_attack"
    with src:
        cubes = list(src)
    assert src.stats["overflows"] == 1 and src.stats["dropped_cpis"] == 1
    assert src.stats["cpis"] == len(cubes) == 3 and src.stats["timeouts"] == 1
    assert d._rxadc.writes == [(0x80000088, 0x4)]             # cleared once
    for c, k in zip(cubes, (0, 2, 3)):                        # CPI 1 overflowed: dropped
        assert c.data.shape == (2, 4, 100) and c.data.dtype == np.complex64
        np.testing.assert_allclose(c.data.reshape(2, -1), tone(400 * k, 400, 2))   # scaled
    ts = [c.t for c in cubes]
    assert ts == sorted(ts) and ts[0] > 0                     # host time at return
    assert d.destroyed == ["rx"]


def test_pluto_manual_gain_and_cyclic_pulse_train():
    from xband.hil.iq import PlutoSource

    shape = CpiShape(pulses=4, samples=100, sample_rate_hz=2e6)
    src = PlutoSource("ip:192.168.2.1", shape, center_hz=1e9, gain_db=35,
                      rf_bandwidth_hz=1.5e6, adi=fake_adi())
    d = src.dev
    assert type(d).__name__ == "Pluto" and d.rx_enabled_channels == [0]
    assert d.gain_control_mode_chan0 == "manual" and d.rx_hardwaregain_chan0 == 35.0
    assert d.rx_rf_bandwidth == 1_500_000
    pulse = np.zeros(200, complex)
    pulse[:20] = np.exp(1j * np.linspace(0, 6, 20))
    assert src.transmit(pulse, attenuation_db=10) == 200
    x, cyclic = d.sent[0]
    assert cyclic and d.tx_lo == 1_000_000_000 and d.tx_hardwaregain_chan0 == -10.0
    np.testing.assert_allclose(x, pulse * 2**14)
    src.transmit(pulse, cyclic=False)                         # replaces the cyclic buffer
    assert d.destroyed == ["tx"] and d.sent[1][1] is False
    with pytest.raises(Exception, match="full scale"):
        src.transmit(pulse * 2)
    src.close()


def test_pluto_channels_pick_the_pyadi_class_or_are_refused():
    from xband.hil.iq import PlutoSource

    adi = fake_adi(nch=1)
    # the fake is as strict as pyadi-iio's ad9364: what the old code did is refused
    dev = adi.Pluto("ip:x")
    with pytest.raises(AttributeError, match="gain_control_mode_chan1"):
        dev.gain_control_mode_chan1 = "slow_attack"
    with pytest.raises(IndexError):
        dev.rx_enabled_channels = [0, 1]
    # RX channel 1 alone is also the ad9361's
    one = CpiShape(channels=("sum",), pulses=2, samples=50, sample_rate_hz=1e6)
    src = PlutoSource("ip:x", one, center_hz=1e9, gain_db=20, rx_channels=[1], adi=adi)
    d = src.dev
    assert type(d).__name__ == "AD9361" and d.rx_enabled_channels == [1]
    assert d.gain_control_mode_chan1 == "manual" and d.rx_hardwaregain_chan1 == 20.0
    assert next(iter(src)).data.shape == (1, 2, 50)
    src.close()
    three = CpiShape(channels=("sum", "daz", "del"), pulses=2, samples=50)
    with pytest.raises(ConfigError, match="--channels.*sum,daz,del"):
        PlutoSource("ip:x", three, center_hz=1e9, adi=adi)
    two = CpiShape(channels=("sum", "daz"), pulses=2, samples=50)
    for chans in ([0, 0], [0, 2]):
        with pytest.raises(ConfigError, match="--channels"):
            PlutoSource("ip:x", two, center_hz=1e9, rx_channels=chans, adi=adi)

    class Refuses(adi.ad9361):      # a 1R1T firmware: the second channel does not exist
        n_rx = 1

    with pytest.raises(HardwareError, match="cannot configure RX.*2r2t"):
        PlutoSource("ip:x", two, center_hz=1e9,
                    adi=types.SimpleNamespace(Pluto=adi.Pluto, ad9361=Refuses))


def test_pluto_errors_name_the_fix(monkeypatch):
    import builtins
    import sys

    from xband.hil.iq import PlutoSource

    shape = CpiShape(pulses=4, samples=100)
    monkeypatch.delitem(sys.modules, "adi", raising=False)
    real = builtins.__import__

    def importer(exc):
        def imp(name, *a, **k):
            if name == "adi":
                raise exc
            return real(name, *a, **k)
        return imp

    e = ImportError("No module named 'adi'")
    e.name = "adi"
    monkeypatch.setattr(builtins, "__import__", importer(e))
    with pytest.raises(HardwareError, match="pip install pyadi-iio"):
        PlutoSource("ip:192.168.2.1", shape, center_hz=1e9)
    # the documented trap: the libiio binding does not match the system library
    monkeypatch.setattr(builtins, "__import__",
                        importer(OSError("libiio.so.1: cannot open shared object file")))
    with pytest.raises(HardwareError, match="iio_info -V.*pylibiio"):
        PlutoSource("ip:192.168.2.1", shape, center_hz=1e9)
    monkeypatch.setattr(builtins, "__import__",
                        importer(AttributeError("undefined symbol: iio_get_backends_count")))
    with pytest.raises(HardwareError, match="does not load"):
        PlutoSource("ip:192.168.2.1", shape, center_hz=1e9)

    class Gone:
        def __init__(self, uri):
            raise ConnectionRefusedError("[Errno 111] Connection refused")

    with pytest.raises(HardwareError, match="ip:10.0.0.9.*cannot open"):
        PlutoSource("ip:10.0.0.9", shape, center_hz=1e9, adi=types.SimpleNamespace(Pluto=Gone))


def test_sdr_strings_route_to_their_source(tmp_path):
    from xband.errors import ConfigError
    from xband.hil.iq import parse_sdr_args

    assert parse_sdr_args("driver=pluto,uri=ip:192.168.2.1") == {"driver": "pluto",
                                                                 "uri": "ip:192.168.2.1"}
    assert parse_sdr_args("driver=uhd, serial=30F") == {"driver": "uhd", "serial": "30F"}
    assert parse_sdr_args("tcp://127.0.0.1:5555") == {"driver": "zmq",
                                                      "address": "tcp://127.0.0.1:5555"}
    assert parse_sdr_args("rec.sigmf-meta") == {"driver": "sigmf", "path": "rec.sigmf-meta"}
    for bad in ("", "driver", "driver=rtlsdr,=3"):
        with pytest.raises(ConfigError, match="--sdr"):
            parse_sdr_args(bad)

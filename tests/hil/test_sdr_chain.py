"""``xband hil --sdr`` end to end through the CLI entry point (in process): CPIs from an
I/Q source → the detection chain → the tracker. No hardware: a fake SoapySDR module whose
device streams a synthesised radar echo (SoapySDR's null device cannot stream), a fake
pyadi-iio ``adi`` module for the PlutoSDR route, and a real ZeroMQ socket on loopback
publishing raw cf32 the way GNU Radio's ZMQ PUB sink does. The target's range and range
rate are known, so the detections and the confirmed track are checked, not only counted.
"""
from __future__ import annotations

import json
import sys
import threading
import types

import numpy as np
import pytest

from xband.cli import main
from xband.radar.params import RadarParams
from xband.radar.scene import synthesize

pytestmark = pytest.mark.reference_rerun

FS, SAMPLES, PULSES, CARRIER = 2e6, 200, 16, 10e9
RANGE0, RDOT = 6000.0, -50.0                   # |ṙ| below the 75 m/s blind speed
N_CPI = 8
FLAGS = ["--rate-hz", str(FS), "--samples", str(SAMPLES), "--pulses", str(PULSES),
         "--center-hz", str(CARRIER), "--bandwidth-hz", "1.6e6", "--json"]


def stream(n_cpi: int = N_CPI, seed: int = 7) -> np.ndarray:
    """n_cpi consecutive CPIs of one target on boresight (az = el = 0), as the one
    contiguous sample stream a receiver would deliver: complex64 (n_cpi·P·Ns,)."""
    p = RadarParams(sample_rate_hz=FS, prf_hz=FS / SAMPLES, pulses_per_cpi=PULSES,
                    carrier_hz=CARRIER, bandwidth_hz=1.6e6)
    rng = np.random.default_rng(seed)
    vel = np.array([[0.0, RDOT, 0.0]])
    out = []
    for i in range(n_cpi):
        t = i * p.cpi_duration_s
        pos = np.array([[0.0, RANGE0, 0.0]]) + vel * t
        out.append(synthesize(p, t, pos, vel, [5.0], rng, pointing=(0.0, 0.0),
                              channels=1).data.reshape(-1))
    return np.concatenate(out)


def run_cli(capsys, *args) -> dict:
    assert main(["hil", *args]) == 0
    return json.loads(capsys.readouterr().out)


def check_chain(doc, n_cpi: int = N_CPI):
    assert doc["cpis"] == n_cpi and doc["detections"] >= n_cpi
    assert all(k >= 1 for k in doc["detections_per_cpi"])
    assert doc["tracks_confirmed"] >= 1 and doc["tracker"]["scans"] == n_cpi
    t = doc["timing_s"]
    for stage in ("read", "chain", "tracker", "cpi"):
        assert t[stage]["p50"] is not None and 0 <= t[stage]["p50"] <= t[stage]["max"]
    assert doc["real_time_factor"] > 0
    for k in ("sdr", "center_hz", "sample_rate_hz", "cpi_duration_s", "overflows",
              "timestamp_gaps", "dropped_cpis", "mean_power_db"):          # the old keys
        assert k in doc, k
    assert doc["cpi_duration_s"] == pytest.approx(PULSES * SAMPLES / FS)


# ------------------------------------------------------------------ fake SoapySDR
def fake_soapy_module(x: np.ndarray, chunk: int = 1500, overflow_at: int | None = None):
    """A SoapySDR-like module whose device streams ``x`` in chunks with hardware time;
    ``overflow_at``: the read index that reports an overflow (the device skips a chunk)."""
    S = types.SimpleNamespace(SOAPY_SDR_RX=1, SOAPY_SDR_TX=0, SOAPY_SDR_CF32="CF32",
                              SOAPY_SDR_OVERFLOW=-4, SOAPY_SDR_TIMEOUT=-1,
                              SOAPY_SDR_HAS_TIME=4, SOAPY_SDR_END_BURST=2,
                              errToStr=lambda r: f"error {r}")

    class Device:
        last = None

        def __init__(self, args):
            self.args, self.pos, self.reads, self.calls = args, 0, 0, []
            Device.last = self

        def __getattr__(self, name):          # setSampleRate, setFrequency, setGain, …
            return lambda *a, **k: self.calls.append((name, a))

        def setupStream(self, d, fmt, chans):
            return ("rx" if d == S.SOAPY_SDR_RX else "tx", tuple(chans))

        def getNumChannels(self, d):
            return 1

        def writeStream(self, st, bufs, n, flags, t_ns, timeoutUs=0):
            self.calls.append(("writeStream", st, bufs[0][:n].copy(), flags))
            return types.SimpleNamespace(ret=n, flags=0)

        def readStream(self, st, bufs, n, timeoutUs=0):
            self.reads += 1
            if self.pos >= x.size:
                return types.SimpleNamespace(ret=S.SOAPY_SDR_TIMEOUT, flags=0, timeNs=0)
            if self.reads == overflow_at:
                self.pos += min(chunk, n)
                return types.SimpleNamespace(ret=S.SOAPY_SDR_OVERFLOW, flags=0, timeNs=0)
            m = min(chunk, n, x.size - self.pos)
            bufs[0][:m] = x[self.pos:self.pos + m]
            t_ns = round(self.pos * 1e9 / FS)
            self.pos += m
            return types.SimpleNamespace(ret=m, flags=S.SOAPY_SDR_HAS_TIME, timeNs=t_ns)

    S.Device = Device
    return S


def test_sdr_fake_soapy_device_through_chain_and_tracker(capsys, monkeypatch):
    x = stream()
    S = fake_soapy_module(x)
    monkeypatch.setitem(sys.modules, "SoapySDR", S)
    doc = run_cli(capsys, "--sdr", "driver=fakeradar", *FLAGS, "--cpis", "50", "--tx")
    check_chain(doc)
    assert doc["source"] == "SoapySource" and doc["overflows"] == doc["timestamp_gaps"] == 0
    dev = S.Device.last
    assert dev.args == "driver=fakeradar"
    assert ("setFrequency", (1, 0, CARRIER)) in dev.calls
    assert ("setSampleRate", (1, 0, FS)) in dev.calls
    # --tx: one CPI of the pulse train as a burst — the LFM at the start of every PRI
    (_, st, x, flags), = [c for c in dev.calls if c[0] == "writeStream"]
    assert st[0] == "tx" and flags & 2 and x.size == doc["tx_samples"] == PULSES * SAMPLES
    pri = x.reshape(PULSES, SAMPLES)
    n_pulse = round(10e-6 * FS)
    np.testing.assert_allclose(np.abs(pri[:, :n_pulse]), 1.0, rtol=1e-6)    # unit LFM
    assert not pri[:, n_pulse:].any() and (pri == pri[0]).all()
    # the confirmed track sits on the target: range 94 m resolution, ṙ to ~1 m/s
    assert doc["tracks_live"] >= doc["tracks_confirmed"] >= 1
    trk = doc["tracks"][0]
    assert trk["range_m"] == pytest.approx(RANGE0 + RDOT * trk["t"], abs=30.0)
    assert trk["range_rate_mps"] == pytest.approx(RDOT, abs=3.0)


def test_sdr_fake_soapy_overflow_drops_a_cpi_and_is_reported(capsys, monkeypatch):
    x = stream()
    monkeypatch.setitem(sys.modules, "SoapySDR", fake_soapy_module(x, overflow_at=4))
    doc = run_cli(capsys, "--sdr", "driver=fakeradar", *FLAGS)
    # read 4 overflows inside CPI 1 (3 × 1500 = 4500 > 3200): CPI 1 and the start of
    # CPI 2 are lost; the rest resumes mid-CPI so one more partial CPI is abandoned at the end
    assert doc["overflows"] == 1 and doc["dropped_cpis"] >= 1
    assert 1 <= doc["cpis"] < N_CPI and doc["detections"] >= doc["cpis"]


def test_sdr_text_summary(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "SoapySDR", fake_soapy_module(stream(3)))
    assert main(["hil", "--sdr", "driver=fakeradar", *FLAGS[:-1]]) == 0
    out = capsys.readouterr().out
    assert "3 CPIs of 16×200" in out and "detections:" in out and "per CPI" in out


# ------------------------------------------------------------------ ZMQ, as GNU Radio
def test_sdr_zmq_pub_of_raw_cf32_through_chain(capsys):
    zmq = pytest.importorskip("zmq")
    x = stream()
    ctx = zmq.Context.instance()
    # XPUB is a PUB on the wire (what GNU Radio's ZMQ PUB Sink binds) that also tells us
    # when the subscriber has joined, so no message is lost to ZMQ's slow joiner
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sent = threading.Event()

    def publish():
        try:
            if pub.poll(20_000):
                pub.recv()                                      # the subscription
                for k in range(0, x.size, 1234):                # not aligned to CPIs
                    pub.send(x[k:k + 1234].tobytes())
        finally:
            sent.set()

    th = threading.Thread(target=publish, daemon=True)
    th.start()
    try:
        doc = run_cli(capsys, "--sdr", f"tcp://127.0.0.1:{port}", *FLAGS,
                      "--cpis", str(N_CPI))
    finally:
        th.join(5)
        pub.close()
    assert sent.is_set()
    check_chain(doc)
    assert doc["source"] == "ZmqSource" and doc["bad_messages"] == 0


# ------------------------------------------------------------------ PlutoSDR (pyadi-iio)
def test_sdr_pluto_route_with_fake_adi(capsys, monkeypatch):
    x = stream()
    made = []

    class Pluto:
        # as strict as pyadi-iio's ad9364 (adi.Pluto): only the chan0 properties exist
        __slots__ = ("uri", "k", "sent", "rx_lo", "tx_lo", "sample_rate", "rx_rf_bandwidth",
                     "rx_buffer_size", "rx_enabled_channels", "tx_enabled_channels",
                     "tx_cyclic_buffer", "gain_control_mode_chan0", "rx_hardwaregain_chan0")

        def __init__(self, uri):
            self.uri, self.k, self.sent = uri, 0, []
            made.append(self)

        def tx(self, x):
            self.sent.append((np.array(x), self.tx_cyclic_buffer))

        def rx(self):
            n = self.rx_buffer_size
            seg = x[self.k * n:(self.k + 1) * n]
            self.k += 1
            if seg.size < n:
                raise TimeoutError("timed out")
            return (seg * 2048.0).astype(np.complex128)     # pyadi-iio: ADC codes

    monkeypatch.setitem(sys.modules, "adi", types.SimpleNamespace(Pluto=Pluto))
    doc = run_cli(capsys, "--sdr", "driver=pluto,uri=ip:192.168.2.1", *FLAGS, "--gain-db",
                  "40", "--tx")
    check_chain(doc)
    d = made[0]
    assert doc["source"] == "PlutoSource" and d.uri == "ip:192.168.2.1"
    assert d.rx_lo == int(CARRIER) and d.sample_rate == int(FS)
    assert d.rx_buffer_size == PULSES * SAMPLES and d.rx_enabled_channels == [0]
    assert d.gain_control_mode_chan0 == "manual" and d.rx_hardwaregain_chan0 == 40.0
    (x, cyclic), = d.sent                          # one PRI, repeated by the device
    assert cyclic and x.size == SAMPLES == doc["tx_samples"] and d.tx_lo == int(CARRIER)
    assert np.abs(x[0]) == pytest.approx(2**14) and not x[round(10e-6 * FS):].any()


def test_sdr_tx_on_a_receive_only_source_is_an_error(capsys, tmp_path):
    pytest.importorskip("sigmf")
    from xband.io.sigmf import write_sigmf
    from xband.types import Cube

    p = RadarParams(sample_rate_hz=FS, prf_hz=FS / SAMPLES, pulses_per_cpi=PULSES,
                    carrier_hz=CARRIER, bandwidth_hz=1.6e6)
    meta = write_sigmf(tmp_path / "r", [Cube(data=stream(1).reshape(1, PULSES, SAMPLES),
                                             t=0.0)], p)
    assert main(["hil", "--sdr", str(meta), "--tx"]) != 0        # a one-line error
    assert "--tx: the SigmfSource cannot transmit" in capsys.readouterr().err


# ------------------------------------------------------------------ SigMF replay
def test_sdr_sigmf_replay_uses_the_recordings_parameters(capsys, tmp_path):
    pytest.importorskip("sigmf")
    from xband.io.sigmf import write_sigmf
    from xband.types import Cube

    p = RadarParams(sample_rate_hz=FS, prf_hz=FS / SAMPLES, pulses_per_cpi=PULSES,
                    carrier_hz=CARRIER, bandwidth_hz=1.6e6)
    x = stream(4).reshape(4, 1, PULSES, SAMPLES)
    cubes = [Cube(data=x[i], t=i * p.cpi_duration_s) for i in range(4)]
    meta = write_sigmf(tmp_path / "rec", cubes, p)
    # the flags' radar (other rate, other CPI) must be ignored for a recording
    doc = run_cli(capsys, "--sdr", str(meta), "--json", "--rate-hz", "1e6")
    check_chain(doc, 4)
    assert doc["source"] == "SigmfSource" and doc["sample_rate_hz"] == FS


def test_sdr_sigmf_replay_per_cpi_pointing_carrier_and_power(capsys, tmp_path, monkeypatch):
    """A recording whose CPIs point the beam differently: each CPI is processed with its
    own pointing (the monopulse angles are offsets from it, so the target's azimuth comes
    out right on every CPI only then), the JSON carries the recording's carrier (not the
    --center-hz default) and the mean power of all channels."""
    pytest.importorskip("sigmf")
    import xband.commands.hil as hil_cmd
    from xband.io.sigmf import write_sigmf

    p = RadarParams(sample_rate_hz=FS, prf_hz=FS / SAMPLES, pulses_per_cpi=PULSES,
                    carrier_hz=CARRIER, bandwidth_hz=1.6e6)
    rng = np.random.default_rng(11)
    vel = np.array([[0.0, RDOT, 0.0]])
    # the target stays due north (az = el = 0); the beam is steered around it, well
    # inside the 2° beamwidth
    pts = [(0.0, 0.0), (0.012, 0.0), (-0.010, 0.006), (0.008, -0.006), (0.0, 0.0)]
    cubes = []
    for i, pt in enumerate(pts):
        t = i * p.cpi_duration_s
        pos = np.array([[0.0, RANGE0, 0.0]]) + vel * t
        cubes.append(synthesize(p, t, pos, vel, [20.0], rng, pointing=pt, channels=3))
    meta = write_sigmf(tmp_path / "steered", cubes, p, pointing=pts)
    seen = []
    real = hil_cmd._beam_angles

    def spy(dets, pointing, params):
        out = real(dets, pointing, params)
        seen.append((tuple(pointing), out))
        return out

    monkeypatch.setattr(hil_cmd, "_beam_angles", spy)
    doc = run_cli(capsys, "--sdr", str(meta), "--json", "--center-hz", "2.4e9")
    assert doc["cpis"] == len(pts) and doc["channels"] == ["sum", "daz", "del"]
    assert [s[0] for s in seen] == pts                       # the pointing of each CPI
    for pt, dets in seen:
        on = np.abs(dets.range - RANGE0) < 100.0
        assert on.any()
        # the target's true angles (0, 0) to well under the steering offsets (≥ 6 mrad)
        assert np.all(np.abs(dets.az[on]) < 2.5e-3) and np.all(np.abs(dets.el[on]) < 2.5e-3)
    assert doc["center_hz"] == CARRIER                       # the recording's carrier
    every = np.mean([np.mean(np.abs(c.data) ** 2) for c in cubes])
    sum_only = np.mean([np.mean(np.abs(c.data[0]) ** 2) for c in cubes])
    assert abs(10 * np.log10(every) - 10 * np.log10(sum_only)) > 0.5   # tells them apart
    assert doc["mean_power_db"] == pytest.approx(10 * np.log10(every), abs=1e-4)

"""SigMF recordings of the xband: namespace: write → read round trip (cf32_le exactly,
ci16_le to the quantisation step), the keys DESIGN.md names, sample-interleaved channels,
and named errors for a recording that lacks them."""
import json

import numpy as np
import pytest

from xband.errors import RecordingError
from xband.io.sigmf import read_sigmf, write_sigmf
from xband.radar.params import RadarParams
from xband.radar.scene import synthesize

pytest.importorskip("sigmf")
P = RadarParams(sample_rate_hz=10.24e6, bandwidth_hz=2.5e6, prf_hz=20e3, pulses_per_cpi=16,
                pulse_width_s=8e-6)


def _cubes(rng, n=2, channels=3):
    return [synthesize(P, 0.5 + i * P.cpi_duration_s, [[100.0, 3000.0, 50.0]],
                       [[0.0, -30.0, 0.0]], [1.0], rng, channels=channels) for i in range(n)]


@pytest.mark.parametrize("datatype", ["cf32_le", "ci16_le"])
def test_round_trip(tmp_path, rng, datatype):
    cubes = _cubes(rng)
    meta = write_sigmf(tmp_path / "rec", cubes, P, datatype=datatype, pointing=(0.03, 0.01))
    g = json.loads(meta.read_text())["global"]
    for k in ("xband:carrier_hz", "xband:prf_hz", "xband:pulses_per_cpi", "xband:waveform",
              "xband:pulse_width_s", "xband:bandwidth_hz", "xband:channels"):
        assert k in g
    assert g["core:datatype"] == datatype and g["core:num_channels"] == 3
    assert g["xband:channels"] == ["sum", "daz", "del"]
    rec = read_sigmf(meta)
    assert rec.params == P and rec.n_cpis == 2 and rec.pointing == (0.03, 0.01)
    step = 0.0 if datatype == "cf32_le" else 1.5 * rec.full_scale / 32767
    for a, b in zip(rec, cubes):
        assert a.channels == b.channels and a.t == pytest.approx(b.t)
        assert np.max(np.abs(a.data.view(np.float32) - b.data.view(np.float32))) <= step
    # interleaving: the first samples of the data file are (sum, daz, del) of sample 0
    raw = np.fromfile(tmp_path / "rec.sigmf-data", "<c8" if datatype == "cf32_le" else "<i2",
                      count=6)
    if datatype == "cf32_le":
        np.testing.assert_array_equal(raw[:3], cubes[0].data[:, 0, 0])


def test_one_channel_and_partial_cpi(tmp_path, rng):
    meta = write_sigmf(tmp_path / "one", _cubes(rng, 1, channels=1), P)
    with open(tmp_path / "one.sigmf-data", "ab") as f:     # a trailing partial CPI
        f.write(np.zeros(100, "<c8").tobytes())
    rec = read_sigmf(tmp_path / "one.sigmf-meta")
    assert rec.channels == ("sum",) and rec.n_cpis == 1


def test_missing_key_is_named(tmp_path, rng):
    meta = write_sigmf(tmp_path / "bad", _cubes(rng, 1), P)
    doc = json.loads(meta.read_text())
    del doc["global"]["xband:prf_hz"]
    meta.write_text(json.dumps(doc))
    with pytest.raises(RecordingError, match="xband:prf_hz"):
        read_sigmf(meta)
    with pytest.raises(RecordingError, match="no such"):
        read_sigmf(tmp_path / "nothing.sigmf-meta")


@pytest.mark.parametrize("key, value, named", [
    ("core:num_channels", 2, "xband:channels"),          # 3 names for 2 channels
    ("core:datatype", "ri8", "core:datatype"),
    ("xband:waveform", "nlfm", "waveform"),
    ("xband:pulses_per_cpi", 0, "pulses_per_cpi"),
])
def test_contradicting_or_invalid_field_is_named(tmp_path, rng, key, value, named):
    meta = write_sigmf(tmp_path / "bad", _cubes(rng, 1), P)
    doc = json.loads(meta.read_text())
    doc["global"][key] = value
    meta.write_text(json.dumps(doc))
    with pytest.raises(RecordingError, match=named):
        read_sigmf(meta)


def test_large_file_streams_cpi_by_cpi(tmp_path, rng):
    """A 2 GiB data file (sparse: no disk used) opens and yields CPIs one at a time:
    memory use does not grow with the file."""
    import resource

    meta = write_sigmf(tmp_path / "big", _cubes(rng, 1), P)
    data = tmp_path / "big.sigmf-data"
    with open(data, "r+b") as f:
        f.truncate(24 * (2 * 1024 ** 3 // 24))       # whole samples of 3 channels
    rec = read_sigmf(meta)
    assert rec.n_cpis > 1000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in (0, rec.n_cpis // 2, rec.n_cpis - 1):
        cube = rec.cube(i)
        assert cube.data.shape == (3, P.pulses_per_cpi, P.samples_per_pri)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, grown_mib

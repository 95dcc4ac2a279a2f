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


def _strip_annotations(meta):
    doc = json.loads(meta.read_text())
    doc["annotations"] = []
    meta.write_text(json.dumps(doc))


@pytest.mark.parametrize("annotated", [True, False])
def test_large_file_streams_in_bounded_memory(tmp_path, rng, annotated):
    """A 2 GiB data file (sparse: no disk used) opens at once; CPIs are read on request
    from the memory map, and reading 512 MiB of them leaves the process's peak memory far
    below that (each CPI's pages are handed back once copied out). Both ways of locating
    CPIs: one annotation per CPI, and the global layout."""
    import resource

    meta = write_sigmf(tmp_path / "big", _cubes(rng, 1), P)
    data = tmp_path / "big.sigmf-data"
    per = P.pulses_per_cpi * P.samples_per_pri * 24        # bytes per CPI, 3 channels
    n_cpis = 2 * 1024 ** 3 // per
    with open(data, "r+b") as f:
        f.truncate(per * n_cpis + 24 * 100)                # + a partial CPI
    doc = json.loads(meta.read_text())
    if annotated:
        a0 = doc["annotations"][0]
        doc["annotations"] = [dict(a0, **{"core:sample_start": k * per // 24,
                                          "xband:cpi_index": k, "xband:t_s": 0.05 * k})
                              for k in range(n_cpis)]
    else:
        doc["annotations"] = []
    meta.write_text(json.dumps(doc))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rec = read_sigmf(meta)
    assert rec.n_cpis == n_cpis > 10_000
    last = rec.cube(n_cpis - 1)
    assert last.data.shape == (3, P.pulses_per_cpi, P.samples_per_pri)
    assert last.t == pytest.approx(0.05 * (n_cpis - 1) if annotated
                                   else 0.5 + (n_cpis - 1) * P.cpi_duration_s)
    k0 = n_cpis // 3
    for k in range(k0, k0 + 512 * 1024 ** 2 // per):      # 512 MiB of CPIs, in order
        cube = rec.cube(k)
        assert not cube.data[0, 0, 0]                       # (sparse: zeros)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 150, grown_mib


def test_annotations_mark_every_cpi(tmp_path, rng):
    """One annotation per CPI: sample range, index, time and the beam of that CPI; the
    reader takes the times and pointings from them (CPIs need not be back to back)."""
    cubes = [synthesize(P, t, [[100.0, 3000.0, 50.0]], [[0.0, -30.0, 0.0]], [1.0], rng)
             for t in (0.5, 0.55, 0.6)]
    points = [(0.01, 0.02), (0.03, 0.01), (-0.02, 0.0)]
    meta = write_sigmf(tmp_path / "a", cubes, P, pointing=points)
    doc = json.loads(meta.read_text())
    per = P.pulses_per_cpi * P.samples_per_pri
    ann = doc["annotations"]
    assert [a["core:sample_start"] for a in ann] == [0, per, 2 * per]
    assert all(a["core:sample_count"] == per for a in ann)
    assert [a["xband:cpi_index"] for a in ann] == [0, 1, 2]
    assert [a["xband:t_s"] for a in ann] == [0.5, 0.55, 0.6]
    assert [tuple(a["xband:pointing_rad"]) for a in ann] == points
    rec = read_sigmf(meta)
    got = list(rec.cpis())
    assert [c.t for c, _ in got] == [0.5, 0.55, 0.6]
    assert [pt for _, pt in got] == points
    for (c, _), want in zip(got, cubes):
        assert np.array_equal(c.data, want.data)           # bit-exact (cf32)
    # plain iteration keeps ``pointing`` at the CPI just yielded
    seen = [(c.t, rec.pointing) for c in rec]
    assert seen == [(0.5, points[0]), (0.55, points[1]), (0.6, points[2])]
    assert rec.pointing_of(1) == points[1]


def test_annotations_locate_the_cpis(tmp_path, rng):
    """The reader finds each CPI where its annotation says, in xband:cpi_index order,
    whatever the order of the data or of the annotations in the file."""
    cubes = _cubes(rng, 3)
    meta = write_sigmf(tmp_path / "r", cubes, P)
    data = tmp_path / "r.sigmf-data"
    per = P.pulses_per_cpi * P.samples_per_pri
    raw = np.fromfile(data, "<c8").reshape(3, -1)
    raw[::-1].tofile(data)                                  # CPIs stored 2, 1, 0
    doc = json.loads(meta.read_text())
    for a in doc["annotations"]:
        a["core:sample_start"] = (2 - a["xband:cpi_index"]) * per
    doc["annotations"].reverse()
    meta.write_text(json.dumps(doc))
    rec = read_sigmf(meta)
    for a, b in zip(rec, cubes):
        assert np.array_equal(a.data, b.data) and a.t == b.t


def test_without_annotations_the_global_layout_is_used(tmp_path, rng):
    cubes = _cubes(rng, 2)
    meta = write_sigmf(tmp_path / "g", cubes, P, pointing=(0.03, 0.01))
    _strip_annotations(meta)
    rec = read_sigmf(meta)
    assert rec.n_cpis == 2
    for k, (c, pt) in enumerate(rec.cpis()):
        assert np.array_equal(c.data, cubes[k].data) and pt == (0.03, 0.01)
        assert c.t == pytest.approx(0.5 + k * P.cpi_duration_s)


@pytest.mark.parametrize("key, value, named", [
    ("core:sample_count", 100, "core:sample_count"),
    ("core:sample_start", None, "core:sample_start"),       # (refused by sigmf itself)
    ("core:sample_start", -5, "core:sample_start"),
    ("xband:t_s", "soon", "xband:t_s"),
    ("xband:pointing_rad", [0.1], "xband:pointing_rad"),
])
def test_bad_cpi_annotation_is_named(tmp_path, rng, key, value, named):
    meta = write_sigmf(tmp_path / "bad", _cubes(rng, 2), P)
    doc = json.loads(meta.read_text())
    if value is None:
        del doc["annotations"][1][key]
    else:
        doc["annotations"][1][key] = value
    meta.write_text(json.dumps(doc))
    with pytest.raises(RecordingError, match=named if value is None else f"CPI 1.*{named}"):
        read_sigmf(meta)


def test_cpi_cut_by_the_end_of_the_data_is_not_there(tmp_path, rng):
    meta = write_sigmf(tmp_path / "cut", _cubes(rng, 3), P)
    data = tmp_path / "cut.sigmf-data"
    with open(data, "r+b") as f:
        f.truncate(data.stat().st_size - 24)            # an interrupted recording
    assert read_sigmf(meta).n_cpis == 2


def test_ci16_scaling_and_interleaving(tmp_path, rng):
    """ci16_le: q = round(x / F · 32767) per I and Q, channels interleaved sample by
    sample; read back exactly as q · F / 32767."""
    cubes = _cubes(rng, 1)
    meta = write_sigmf(tmp_path / "q", cubes, P, datatype="ci16_le", full_scale=50.0)
    rec = read_sigmf(meta)
    assert rec.full_scale == 50.0
    raw = np.fromfile(tmp_path / "q.sigmf-data", "<i2")
    x = cubes[0].data                                        # (ch, pulse, sample)
    want = np.stack([x[:, 0, 0].real, x[:, 0, 0].imag], 1).ravel()   # sum I Q, daz I Q …
    np.testing.assert_array_equal(raw[:6], np.round(want.astype(np.float32) /
                                                    np.float32(50.0) * 32767))
    q = raw.reshape(P.pulses_per_cpi, P.samples_per_pri, 3, 2).astype(np.float32)
    back = (q * np.float32(50.0 / 32767)).view(np.complex64)[..., 0]
    np.testing.assert_array_equal(rec.cube(0).data, np.moveaxis(back, -1, 0))
    err = np.abs(rec.cube(0).data.view(np.float32) - x.view(np.float32))
    assert err.max() <= 0.51 * 50.0 / 32767                  # half a step (+ float32)


def test_checksum_verified_only_on_request(tmp_path, rng):
    meta = write_sigmf(tmp_path / "c", _cubes(rng, 1), P)
    assert "core:sha512" in json.loads(meta.read_text())["global"]
    read_sigmf(meta, verify=True)
    data = tmp_path / "c.sigmf-data"
    b = bytearray(data.read_bytes())
    b[1000] ^= 0x40
    data.write_bytes(bytes(b))
    assert read_sigmf(meta).n_cpis == 1                      # off by default
    with pytest.raises(RecordingError, match="core:sha512"):
        read_sigmf(meta, verify=True)

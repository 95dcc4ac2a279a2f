"""ASTERIX interchange (xband.io.asterix, ``xband export --to asterix``, ``xband import
asterix``): a recording's detections as CAT048 and tracks as CAT062 survive the round trip
to the format's resolution, decoded both by our importer and by libasterix directly; a
CAT048 record built by hand from the specification decodes to the plot it describes (and
our encoder writes exactly those bytes); damaged files are counted, never fatal; the
importer's CSV is accepted by ``xband track``."""
import contextlib
import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("asterix")

from asterix.base import Bits, RawDatablock  # noqa: E402
from asterix.generated import Cat_048_1_32, Cat_062_1_21  # noqa: E402

from xband.cli import main  # noqa: E402
from xband.errors import ConfigError  # noqa: E402
from xband.io.asterix import (  # noqa: E402
    FT, NM, RESOLUTION, AsterixOptions, encode_cat048, parse_epoch, read_asterix,
    t_to_tod_raw, tod_to_t)
from xband.io.csvio import DET_COLUMNS  # noqa: E402
from xband.io.geodetic import Site  # noqa: E402
from xband.io.recording import read_recording  # noqa: E402
from xband.types import Detections  # noqa: E402

EPOCH = "2026-11-29T13:00:00Z"     # t = 0 ↔ ToD 46800 s
SITE = "52.1,-0.5,80"
TOD0 = 46800.0


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "xband.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A short run of the default engagement (truth radar model: many false alarms, so
    plenty of plots and tentative tracks)."""
    d = tmp_path_factory.mktemp("astrec")
    (d / "short.toml").write_text('[scenario]\nduration_s = 4.0\n[radar]\nmodel = "truth"\n')
    p = _run("run", "short.toml", "--no-plot", "--record", "short.xrec", "--json", cwd=d)
    assert p.returncode == 0, p.stderr
    return d / "short.xrec"


@pytest.fixture(scope="module")
def exported(recording):
    out = recording.with_suffix(".ast")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["export", str(recording), "--to", "asterix", str(out), "--epoch", EPOCH,
                   "--site", SITE, "--sac", "25", "--sic", "3", "--json"])
    assert rc == 0
    return out, json.loads(buf.getvalue())


def _plots(rec):
    """All recorded detections in file order (what CAT048 holds, same order)."""
    dets = rec.detections()
    return Detections.concat([d for d in dets if len(d)])


def test_export_counts(recording, exported):
    rec = read_recording(recording)
    _, doc = exported
    n_det = sum(len(d) for d in rec.detections())
    n_trk = sum(int(t.confirmed.sum()) for t in rec.tracks())
    assert n_det > 50 and n_trk > 10
    assert doc["cat048"]["records"] + doc["omitted"].get("cat048_no_position", 0) == n_det
    assert doc["cat062"]["records"] == n_trk
    assert doc["wgs84"] and doc["sac"] == 25 and doc["sic"] == 3


def test_roundtrip_cat048_through_importer(recording, exported):
    """Every plot comes back within half an LSB of each quantity."""
    path, _ = exported
    d = _plots(read_recording(recording))
    got = read_asterix(path, epoch_tod=TOD0, site_h=80.0)
    assert got.ok and got.corrupt_blocks == 0 and not got.unsupported
    p = got.plots
    assert len(p["t"]) == len(d)
    eps = 1e-9
    assert np.all(np.abs(p["t"] - d.t) <= RESOLUTION["tod_s"] / 2 + eps)
    assert np.all(np.abs(p["range"] - d.range) <= RESOLUTION["rho_m"] / 2 + eps)
    daz = np.angle(np.exp(1j * (p["az"] - d.az)))
    assert np.all(np.abs(daz) <= RESOLUTION["theta_rad"] / 2 + eps)
    assert np.all((p["az"] > -np.pi) & (p["az"] <= np.pi))
    # the height above the site is what I048/110 carries (25 ft LSB)
    h_in = d.range * np.sin(d.el)
    h_out = p["range"] * np.sin(p["el"])
    assert np.all(np.abs(h_out - h_in) <= RESOLUTION["height_3d_m"] / 2 + 1e-6)
    ok = (np.round(d.range_rate) >= -512) & (np.round(d.range_rate) <= 511)   # 10 bits
    assert ok.sum() > 10
    assert np.all(np.abs(p["range_rate"][ok] - d.range_rate[ok]) <= 0.5 + eps)
    assert np.all(np.isnan(p["range_rate"][~ok]))
    snr_db = 10 * np.log10(d.snr)
    assert np.all(np.abs(p["snr_db"] - snr_db) <= 0.5 + eps)
    assert set(p["sac"]) == {25} and set(p["sic"]) == {3} and set(p["sim"]) == {1}
    # the scans stay distinct: one t per recorded scan
    assert len(np.unique(p["t"])) == len({float(t) for t in d.t})


def test_roundtrip_decoded_by_libasterix_directly(recording, exported):
    """An independent decoder (libasterix, no xband code) sees the same plots and tracks."""
    path, _ = exported
    rec = read_recording(recording)
    d = _plots(rec)
    blocks = RawDatablock.parse(Bits.from_bytes(path.read_bytes()))
    assert not isinstance(blocks, ValueError)
    rho, theta, tod48, tracks = [], [], [], []
    for db in blocks:
        cat = db.get_category()
        assert cat in (48, 62)
        spec = Cat_048_1_32 if cat == 48 else Cat_062_1_21
        recs = spec.cv_uap.parse(db.get_raw_records())
        assert not isinstance(recs, ValueError)
        for r in recs:
            if cat == 48:
                i040 = r.get_item("040").variation
                rho.append(i040.get_item("RHO").variation.content.as_quantity("NM"))
                theta.append(i040.get_item("THETA").variation.content.as_quantity("°"))
                tod48.append(r.get_item("140").variation.content.as_quantity("s"))
            else:
                tracks.append(r)
    np.testing.assert_allclose(np.array(rho) * NM, d.range, rtol=0,
                               atol=RESOLUTION["rho_m"] / 2 + 1e-9)
    dth = (np.array(theta) - np.degrees(d.az) + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(dth) <= 360.0 / 65536 / 2 + 1e-9)
    np.testing.assert_allclose(tod48, TOD0 + d.t, rtol=0, atol=1 / 256 + 1e-9)

    conf = [tr.take(np.flatnonzero(tr.confirmed)) for tr in rec.tracks()]
    conf = [c for c in conf if len(c)]
    x = np.concatenate([c.x for c in conf])
    P = np.concatenate([c.P for c in conf])
    ids = np.concatenate([c.id for c in conf])
    t = np.concatenate([c.t for c in conf])
    assert len(tracks) == len(x)
    site = Site.parse(SITE)
    lat, lon, _ = site.from_enu_deg(x[:, 0], x[:, 1], x[:, 2])
    for k, r in enumerate(tracks):
        def q(item, *names, unit):
            v = r.get_item(item)
            for nm in names:
                v = v.variation.get_item(nm)
            return v.variation.content.as_quantity(unit)
        assert r.get_item("040").variation.content.as_uint() == ids[k]
        assert abs(q("070", unit="s") - (TOD0 + t[k])) <= 1 / 256 + 1e-9
        assert abs(q("100", "X", unit="m") - x[k, 0]) <= 0.25 + 1e-9
        assert abs(q("100", "Y", unit="m") - x[k, 1]) <= 0.25 + 1e-9
        assert abs(q("185", "VX", unit="m/s") - x[k, 3]) <= 0.125 + 1e-9
        assert abs(q("185", "VY", unit="m/s") - x[k, 4]) <= 0.125 + 1e-9
        assert abs(q("130", unit="ft") * FT - (80.0 + x[k, 2])) <= 6.25 * FT / 2 + 1e-9
        assert abs(q("220", unit="ft/min") * FT / 60 - x[k, 5]) <= 6.25 * FT / 120 + 1e-9
        assert abs(q("105", "LAT", unit="°") - lat[k]) <= 90.0 / 2 ** 25 + 1e-12
        assert abs(q("105", "LON", unit="°") - lon[k]) <= 90.0 / 2 ** 25 + 1e-12
        assert abs(q("500", "APC", "X", unit="m") - math.sqrt(P[k, 0, 0])) <= 0.25 + 1e-9
        st = r.get_item("080").variation
        assert st.get_item("CNF").variation.content.as_uint() == 0      # confirmed
        assert st.get_item("SIM").variation.content.as_uint() == 1
    # TSB marks the first report of each track number, TSE the last
    tsb = [int(r.get_item("040").variation.content.as_uint()) for r in tracks
           if r.get_item("080").variation.get_item("TSB").variation.content.as_uint()]
    assert sorted(tsb) == sorted(set(ids.tolist()))


def _hand_vector() -> bytes:
    """One CAT048 record, byte by byte from the CAT048 specification (ed. 1.32):
    SAC 7, SIC 42; time of day 12:00:00.5; a single primary (PSR) plot at 20 NM, θ 225°,
    3D height 10 000 ft, calculated Doppler speed −150 m/s, PSR amplitude 17 dBm."""
    fspec = bytes([
        0b1111_0011,   # FRN1 010, FRN2 140, FRN3 020, FRN4 040, -, -, FRN7 130, FX
        0b0000_0001,   # FRN8–14 absent, FX
        0b0000_1100,   # FRN19 110, FRN20 120, no FX
    ])
    body = fspec
    body += bytes([7, 42])                                    # I048/010 SAC, SIC
    body += round(43200.5 * 128).to_bytes(3, "big")           # I048/140 1/128 s
    body += bytes([0b001_0_0_0_0_0])                          # I048/020 TYP=1 PSR, no FX
    body += (20 * 256).to_bytes(2, "big")                     # I048/040 RHO 1/256 NM
    body += round(225 / 360 * 65536).to_bytes(2, "big")       #          THETA 360/2^16 °
    body += bytes([0b0000_1000, 17])                          # I048/130 PAM subfield
    body += (10000 // 25).to_bytes(2, "big")                  # I048/110 3DH 25 ft
    body += bytes([0b1000_0000]) + ((1 << 10) - 150).to_bytes(2, "big")  # I048/120 CAL
    return bytes([48]) + (len(body) + 3).to_bytes(2, "big") + body


def test_hand_built_cat048_record_decodes_to_the_plot():
    got = read_asterix(_hand_vector(), epoch_tod=parse_epoch("12:00:00")[0])
    assert got.ok and got.records["cat048"] == 1
    p = {k: float(v[0]) for k, v in got.plots.items()}
    assert p["t"] == 0.5 and p["tod"] == 43200.5
    assert p["range"] == 20 * 1852.0
    assert p["az"] == pytest.approx(-3 * math.pi / 4, abs=1e-12)   # 225° cw from north
    assert p["el"] == pytest.approx(math.asin(10000 * 0.3048 / 37040.0), abs=1e-12)
    assert p["range_rate"] == -150.0 and p["snr_db"] == 17.0
    assert (p["sac"], p["sic"], p["sim"]) == (7, 42, 0)
    # azimuth convention: 225° is south-west, x (east) < 0 and y (north) < 0
    x = p["range"] * math.cos(p["el"]) * math.sin(p["az"])
    y = p["range"] * math.cos(p["el"]) * math.cos(p["az"])
    assert x < 0 and y < 0 and x == pytest.approx(y)


def test_encoder_writes_the_hand_built_bytes():
    el = math.asin(10000 * 0.3048 / 37040.0)
    d = Detections(t=[0.5], range=[37040.0], az=[-3 * math.pi / 4], el=[el],
                   range_rate=[-150.0], snr=[10 ** 1.7], R=np.zeros((1, 4, 4)))
    opts = AsterixOptions(sac=7, sic=42, epoch_tod=43200.0, simulated=False)
    from collections import Counter
    blocks = encode_cat048(d, opts, Counter())
    assert blocks == [_hand_vector()] and blocks.records == 1


@pytest.mark.parametrize("az, theta", [(0.0, 0), (math.pi / 2, 0x4000), (math.pi, 0x8000),
                                       (-math.pi / 2, 0xC000), (-1e-9, 0)])
def test_azimuth_maps_to_theta_clockwise_from_north(az, theta):
    from collections import Counter
    d = Detections(t=[0.0], range=[1000.0], az=[az], el=[0.0], range_rate=[0.0],
                   snr=[10.0], R=np.zeros((1, 4, 4)))
    b = encode_cat048(d, AsterixOptions(), Counter())[0]
    rec = Cat_048_1_32.cv_uap.parse(Bits.from_bytes(b[3:]))[0]
    assert rec.get_item("040").variation.get_item("THETA").variation.content.as_uint() == theta
    back = read_asterix(b).plots["az"][0]
    assert abs(np.angle(np.exp(1j * (back - az)))) <= RESOLUTION["theta_rad"] / 2
    assert -np.pi < back <= np.pi


def test_values_that_do_not_fit_are_omitted_and_counted():
    from collections import Counter
    d = Detections(t=[0.0, 0.0, 0.0], range=[1000.0, 500e3, 2000.0], az=[0.1, 0.1, np.nan],
                   el=[0.01, 0.01, 0.0], range_rate=[-700.0, 0.0, 0.0], snr=[10.0] * 3,
                   R=np.zeros((3, 4, 4)))
    om = Counter()
    blocks = encode_cat048(d, AsterixOptions(), om)
    assert blocks.records == 1                               # 500 km > 256 NM; NaN azimuth
    assert om["cat048_no_position"] == 2 and om["I048/120"] == 1
    p = read_asterix(blocks[0]).plots
    assert np.isnan(p["range_rate"][0]) and p["range"][0] == pytest.approx(1000, abs=4)


def test_time_of_day_epoch_and_midnight():
    assert parse_epoch(None) == (0.0, "midnight")
    assert parse_epoch("2026-11-29T13:05:00Z")[0] == 13 * 3600 + 300
    assert parse_epoch("2026-11-29T14:05:00+01:00")[0] == 13 * 3600 + 300
    assert parse_epoch("13:05:00.5")[0] == 13 * 3600 + 300.5
    with pytest.raises(ConfigError, match="--epoch"):
        parse_epoch("yesterday")
    # a run that starts 2 s before midnight crosses it; the import unwraps
    t = np.arange(0.0, 10.0, 0.25)
    tod0 = parse_epoch("23:59:58")[0]
    raw = t_to_tod_raw(t, tod0)
    assert raw.max() < 86400 * 128 and raw[-1] < raw[0]        # wrapped past midnight
    np.testing.assert_allclose(tod_to_t(raw / 128.0, tod0), t, atol=1 / 256)
    # default epoch: the time of day is t itself
    np.testing.assert_array_equal(t_to_tod_raw([0.5, 100.0]), [64, 12800])


def test_damaged_input_is_counted_not_fatal(exported):
    path, _ = exported
    data = path.read_bytes()
    whole = read_asterix(data)
    blocks, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos + 1:pos + 3], "big")
        blocks.append(data[pos:pos + n])
        pos += n
    # truncated in the middle of the last block
    cut = read_asterix(data[:-5])
    assert cut.torn_tail_bytes == len(blocks[-1]) - 5 and not cut.ok
    assert sum(cut.records.values()) == sum(whole.records.values()) - \
        _records_in(blocks[-1])
    assert "truncated" in cut.problems[0]
    # a block whose records do not parse (FSPEC claims items the block does not hold),
    # an unsupported category (a CAT034 north marker) and a good block after them
    k = next(i for i, b in enumerate(blocks) if b[0] == 48)
    bad = bytearray(blocks[k])
    bad[3:6] = b"\xff\xff\xff"
    cat034 = bytes.fromhex("220007c0010201")
    mixed = b"".join(blocks[:k]) + bytes(bad) + cat034 + b"".join(blocks[k + 1:])
    got = read_asterix(mixed)
    assert got.corrupt_blocks == 1 and got.unsupported == {34: 1}
    assert got.torn_tail_bytes == 0
    assert len(got.plots["t"]) == len(whole.plots["t"]) - _records_in(blocks[k])
    assert f"byte {len(b''.join(blocks[:k]))}" in got.problems[0]
    # an impossible length field ends the framing there, reported
    z = read_asterix(data[:len(blocks[0])] + b"\x30\x00\x01" + data[len(blocks[0]):])
    assert z.torn_tail_bytes == len(data) - len(blocks[0]) + 3 and "length 1" in \
        z.problems[0]


def _records_in(block: bytes) -> int:
    spec = Cat_048_1_32 if block[0] == 48 else Cat_062_1_21
    return len(spec.cv_uap.parse(Bits.from_bytes(block[3:])))


def test_cli_import_then_track(exported, tmp_path, capsys):
    """``xband import asterix`` writes the detections CSV that ``xband track`` reads."""
    path, _ = exported
    dets = tmp_path / "dets.csv"
    assert main(["import", "asterix", str(path), "-o", str(dets), "--epoch", EPOCH,
                 "--site", SITE, "--tracks", str(tmp_path / "tr.csv"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["rows_written"] > 50 and doc["sources"] == ["25/3"]
    assert doc["t_span_s"][0] == 0.0
    with open(dets) as f:
        hdr = next(csv.reader(f))
    assert hdr == DET_COLUMNS
    assert main(["track", str(dets), "-o", str(tmp_path / "tracks.csv"), "--json"]) == 0
    tr = json.loads(capsys.readouterr().out)
    assert tr["detections"] == doc["rows_written"] and tr["tracks_confirmed"] >= 1
    # plots whose range rate is beyond I048/120's ±511 m/s come back without one; the
    # tracker uses them without it (range and angles) instead of rejecting them
    assert doc["missing"]["range_rate"] > 0 and tr["rejected_nonfinite"] == 0
    # a damaged file imports what it holds and says so
    bad = tmp_path / "bad.ast"
    bad.write_bytes(path.read_bytes()[:-3])
    assert main(["import", "asterix", str(bad), "-o", str(tmp_path / "d2.csv")]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED" in out and "truncated" in out
    # a file that is not ASTERIX at all is an error naming the file
    junk = tmp_path / "junk.ast"
    junk.write_text("t,range,azimuth\n0,1,2\n")
    assert main(["import", "asterix", str(junk), "-o", str(tmp_path / "d3.csv")]) != 0
    err = capsys.readouterr().err
    assert "junk.ast" in err and "not a file of ASTERIX data blocks" in err


def test_missing_extra_names_the_install_command(recording, tmp_path):
    fake = tmp_path / "fake"
    (fake / "asterix").mkdir(parents=True)
    (fake / "asterix" / "__init__.py").write_text("raise ImportError('no asterix here')\n")
    import os
    env = dict(os.environ, PYTHONPATH=str(fake))
    for argv in (["export", str(recording), "--to", "asterix", str(tmp_path / "x.ast")],
                 ["import", "asterix", str(tmp_path / "x.ast"), "-o", str(tmp_path / "d.csv")]):
        p = subprocess.run([sys.executable, "-m", "xband.cli", *argv], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=120)
        assert p.returncode != 0
        assert "pip install 'xband[asterix]'" in p.stderr
    assert not (tmp_path / "x.ast").exists()


def test_large_scan_is_split_into_blocks_of_at_most_65535_bytes(rng, monkeypatch):
    from collections import Counter

    import xband.io.asterix as ax
    assert ax.MAX_BLOCK == 65535                # the 16-bit LEN field
    monkeypatch.setattr(ax, "MAX_BLOCK", 200)   # the same split, on a small scan
    n = 40                                      # ≈ 20 bytes a record: several blocks
    d = Detections(t=np.zeros(n), range=rng.uniform(1e3, 4e4, n),
                   az=rng.uniform(-np.pi, np.pi, n), el=rng.uniform(0, 0.5, n),
                   range_rate=rng.uniform(-400, 400, n), snr=10 ** rng.uniform(1, 3, n),
                   R=np.zeros((n, 4, 4)))
    blocks = encode_cat048(d, AsterixOptions(), Counter())
    assert len(blocks) >= 4 and blocks.records == n
    assert all(len(b) <= 200 and int.from_bytes(b[1:3], "big") == len(b) for b in blocks)
    got = read_asterix(b"".join(blocks))
    assert got.ok and len(got.plots["range"]) == n
    np.testing.assert_allclose(got.plots["range"], d.range, atol=RESOLUTION["rho_m"] / 2)


def test_bad_flags_are_named(recording, tmp_path, capsys):
    out = tmp_path / "x.ast"
    assert main(["export", str(recording), "--to", "asterix", str(out), "--sac", "300"]) != 0
    assert "--sac" in capsys.readouterr().err
    assert main(["export", str(recording), "--to", "asterix", str(out), "--epoch",
                 "noon-ish"]) != 0
    assert "--epoch" in capsys.readouterr().err
    assert main(["export", str(recording), "--to", "asterix", str(tmp_path)]) != 0
    assert "directory" in capsys.readouterr().err
    assert not out.exists()


# ------------------------------------------------------------------ output paths
def _leftovers(d):
    """Every file under ``d`` (a failed write must leave no final file nor ``.part``)."""
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def test_import_creates_missing_directories(exported, tmp_path, capsys):
    path, _ = exported
    dets, trk = tmp_path / "new" / "deep" / "d.csv", tmp_path / "other" / "t.csv"
    assert main(["import", "asterix", str(path), "-o", str(dets), "--tracks", str(trk),
                 "--epoch", EPOCH, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    with open(dets) as f:
        assert sum(1 for _ in f) == doc["rows_written"] + 1 > 50
    with open(trk) as f:
        assert sum(1 for _ in f) == doc["track_rows_written"] + 1 > 10
    assert _leftovers(tmp_path) == ["new/deep/d.csv", "other/t.csv"]


def test_import_unwritable_output_is_named(exported, tmp_path, capsys):
    path, _ = exported
    (tmp_path / "blocker").write_text("a file, not a directory\n")
    # the parent cannot be created (a file is in the way)
    bad = tmp_path / "blocker" / "d.csv"
    assert main(["import", "asterix", str(path), "-o", str(bad), "--epoch", EPOCH]) == 2
    err = capsys.readouterr().err
    assert f"xband: error: {bad}: cannot write" in err and "Traceback" not in err
    # PATH.part cannot be opened (a directory of that name)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "d.csv.part").mkdir()
    dets = tmp_path / "out" / "d.csv"
    assert main(["import", "asterix", str(path), "-o", str(dets), "--epoch", EPOCH]) == 2
    assert f"{dets}: cannot write" in capsys.readouterr().err
    (tmp_path / "out" / "d.csv.part").rmdir()
    assert _leftovers(tmp_path) == ["blocker"]


def test_import_tracks_failure_leaves_nothing_behind(exported, tmp_path, capsys):
    from xband.commands.import_ import _write_outputs

    path, _ = exported
    (tmp_path / "blocker").write_text("x\n")
    dets, bad = tmp_path / "out" / "d.csv", tmp_path / "blocker" / "t.csv"
    assert main(["import", "asterix", str(path), "-o", str(dets), "--tracks", str(bad),
                 "--epoch", EPOCH]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: cannot write" in err and "Traceback" not in err
    assert _leftovers(tmp_path) == ["blocker"]          # no d.csv, no d.csv.part
    # a failure in the middle of writing the tracks (a column missing): both .part removed
    got = read_asterix(path, epoch_tod=TOD0)
    tracks = {k: v for k, v in got.tracks.items() if k != "sigma_vz"}
    trk = tmp_path / "out" / "t.csv"
    with pytest.raises(KeyError, match="sigma_vz"):
        _write_outputs(dets, got.plots, trk, tracks)
    assert _leftovers(tmp_path) == ["blocker"]
    # the same file for both outputs is refused before anything is written
    assert main(["import", "asterix", str(path), "-o", str(dets), "--tracks", str(dets),
                 "--epoch", EPOCH]) == 2
    assert "--tracks" in capsys.readouterr().err
    assert _leftovers(tmp_path) == ["blocker"]


def test_export_creates_missing_directories_and_names_unwritable_paths(recording, tmp_path,
                                                                       capsys):
    out = tmp_path / "a" / "b" / "x.ast"
    assert main(["export", str(recording), "--to", "asterix", str(out)]) == 0
    capsys.readouterr()
    assert read_asterix(out).ok and _leftovers(tmp_path) == ["a/b/x.ast"]
    (tmp_path / "blocker").write_text("x\n")
    bad = tmp_path / "blocker" / "sub" / "x.ast"          # mkdir fails
    assert main(["export", str(recording), "--to", "asterix", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"xband: error: {bad}: cannot write" in err and "Traceback" not in err
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "y.ast.part").mkdir()                # the .part cannot be opened
    bad = tmp_path / "c" / "y.ast"
    assert main(["export", str(recording), "--to", "asterix", str(bad)]) == 2
    assert f"{bad}: cannot write" in capsys.readouterr().err
    assert not bad.exists()


def test_other_source_tracks_are_counted(exported, tmp_path, capsys):
    """--sac/--sic drop the other sources' CAT062 records as they drop CAT048 ones, and
    count them (docs/interchange.md: ``other_source``)."""
    path, _ = exported
    whole = read_asterix(path)
    n48, n62 = whole.records["cat048"], whole.records["cat062"]
    assert n62 > 10 and not whole.skipped_tracks
    assert len(whole.tracks["t"]) == n62
    other = read_asterix(path, sac=26)                     # the file is all SAC 25 / SIC 3
    assert len(other.tracks["t"]) == 0 and len(other.plots["t"]) == 0
    assert other.skipped_tracks == {"other_source": n62}
    assert other.skipped_plots["other_source"] == n48 - sum(
        v for k, v in whole.skipped_plots.items())
    assert read_asterix(path, sac=25, sic=4).skipped_tracks == {"other_source": n62}
    same = read_asterix(path, sac=25, sic=3)
    assert not same.skipped_tracks and len(same.tracks["t"]) == n62
    assert main(["import", "asterix", str(path), "-o", str(tmp_path / "d.csv"), "--tracks",
                 str(tmp_path / "t.csv"), "--sic", "9", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["skipped_tracks"] == {"other_source": n62} and doc["track_rows_written"] == 0
    assert main(["import", "asterix", str(path), "-o", str(tmp_path / "d.csv"), "--tracks",
                 str(tmp_path / "t.csv"), "--sic", "9"]) == 0
    assert f"0 CAT062 rows → {tmp_path / 't.csv'} (other_source: {n62} skipped)" in \
        capsys.readouterr().out


# ------------------------------------------------ the scenario's [site] as the default origin
SITED = "[site]\nlat_deg = -33.9\nlon_deg = 151.2\nh_m = 40.0\n"


@pytest.fixture(scope="module")
def sited_recording(tmp_path_factory):
    """A short run whose scenario places the radar with a [site] table."""
    d = tmp_path_factory.mktemp("sitedrec")
    (d / "sited.toml").write_text('[scenario]\nduration_s = 3.0\n[radar]\nmodel = "truth"\n'
                                  + SITED)
    p = _run("run", "sited.toml", "--no-plot", "--record", "sited.xrec", "--json", cwd=d)
    assert p.returncode == 0, p.stderr
    return d / "sited.xrec"


def _export_json(argv, capsys):
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _i062(path):
    """(track number, tod, lat °, lon °, alt ft) of every CAT062 record, by libasterix."""
    out = []
    for db in RawDatablock.parse(Bits.from_bytes(path.read_bytes())):
        if db.get_category() != 62:
            continue
        for r in Cat_062_1_21.cv_uap.parse(db.get_raw_records()):
            i105 = r.get_item("105")
            out.append((r.get_item("040").variation.content.as_uint(),
                        None if i105 is None else
                        i105.variation.get_item("LAT").variation.content.as_quantity("°"),
                        None if i105 is None else
                        i105.variation.get_item("LON").variation.content.as_quantity("°"),
                        r.get_item("130").variation.content.as_quantity("ft")))
    return out


def test_export_defaults_its_origin_to_the_recorded_scenario_site(sited_recording, tmp_path,
                                                                   capsys):
    """No --site: I062/105 is written from the recorded [site], equal (to the item's LSB) to
    Site.from_enu_deg of the recorded tracks, and heights are above the site's h_m."""
    rec = read_recording(sited_recording)
    out = tmp_path / "sited.ast"
    doc = _export_json(["export", str(sited_recording), "--to", "asterix", str(out)], capsys)
    assert doc["wgs84"] and doc["site"] == {"lat_deg": -33.9, "lon_deg": 151.2, "h_m": 40.0,
                                            "from": "scenario [site]"}
    conf = [tr.take(np.flatnonzero(tr.confirmed)) for tr in rec.tracks()]
    x = np.concatenate([c.x for c in conf if len(c)])
    ids = np.concatenate([c.id for c in conf if len(c)])
    lat, lon, _ = Site(-33.9, 151.2, 40.0).from_enu_deg(x[:, 0], x[:, 1], x[:, 2])
    got = _i062(out)
    assert len(got) == len(x) > 10
    for k, (tn, la, lo, alt_ft) in enumerate(got):
        assert tn == ids[k]
        assert abs(la - lat[k]) <= 90.0 / 2 ** 25 + 1e-12
        assert abs(lo - lon[k]) <= 90.0 / 2 ** 25 + 1e-12
        assert abs(alt_ft * FT - (40.0 + x[k, 2])) <= 6.25 * FT / 2 + 1e-9
    # southern/eastern hemisphere, a few km from the site: the signs and sizes are right
    assert np.all((lat < -33.7) & (lat > -34.1) & (lon > 151.0) & (lon < 151.4))

    # --site overrides the recorded site
    over = tmp_path / "over.ast"
    doc = _export_json(["export", str(sited_recording), "--to", "asterix", str(over),
                        "--site", SITE], capsys)
    assert doc["site"]["from"] == "--site" and doc["site"]["lat_deg"] == 52.1
    lat2, _, _ = Site.parse(SITE).from_enu_deg(x[:, 0], x[:, 1], x[:, 2])
    assert np.allclose([g[1] for g in _i062(over)], lat2, rtol=0, atol=90.0 / 2 ** 25)
    main(["export", str(sited_recording), "--to", "asterix", str(over)])
    assert "(scenario [site])" in capsys.readouterr().out


def test_export_without_any_site_writes_no_wgs84(recording, tmp_path, capsys):
    out = tmp_path / "plain.ast"
    doc = _export_json(["export", str(recording), "--to", "asterix", str(out)], capsys)
    assert not doc["wgs84"] and doc["site"] is None
    got = _i062(out)
    assert got and all(g[1] is None for g in got)
    main(["export", str(recording), "--to", "asterix", str(out)])
    assert "not written (no --site, no scenario [site])" in capsys.readouterr().out


def test_bad_recorded_site_is_named(tmp_path, capsys):
    """A recording whose scenario's [site] is invalid: the error names the file, [site] and
    the key (the header is written by hand: `xband run` refuses such a scenario)."""
    from xband.io.recording import RecordingWriter

    rec = tmp_path / "bad.xrec"
    with RecordingWriter(rec, {"scenario_toml": "[site]\nlat_deg = 91.0\nlon_deg = 0.0\n"}):
        pass
    assert main(["export", str(rec), "--to", "asterix", str(tmp_path / "x.ast")]) == 2
    err = capsys.readouterr().err
    assert f"{rec} header scenario: [site] lat_deg: must be <= 90.0" in err, err

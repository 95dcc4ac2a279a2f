"""``xband export REC --to parquet DIR``: the CSV export's tables as Parquet (pyarrow)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from xband.cli import main as cli_main
from xband.commands.export import PARQUET_SCHEMA_VERSION
from xband.io.recording import read_recording

TABLES = ("detections", "tracks", "truth", "interceptor", "commands")


def xb(*args, cwd):
    return subprocess.run([sys.executable, "-m", "xband.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    p = xb("demo", "--no-plot", "--record", str(d / "run.xrec"), "--json", cwd=d)
    assert p.returncode == 0, p.stderr
    return d / "run.xrec"


@pytest.fixture(scope="module")
def pq():
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    return pq


@pytest.fixture(scope="module")
def exported(recording, pq, tmp_path_factory):
    d = tmp_path_factory.mktemp("out")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(["export", str(recording), "--to", "csv", str(d / "csv")]) == 0
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(["export", str(recording), "--to", "parquet", str(d / "pq"),
                         "--json"]) == 0
    return d, json.loads(buf.getvalue())


def _read_csv(path):
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        rows = list(rd)
    return header, rows


def test_one_file_per_table_with_the_csv_columns_and_values(exported, pq):
    d, doc = exported
    assert doc["format"] == "parquet" and doc["schema_version"] == PARQUET_SCHEMA_VERSION
    assert set(doc["files"]) == set(TABLES)
    for name in TABLES:
        header, rows = _read_csv(d / "csv" / f"{name}.csv")
        table = pq.read_table(d / "pq" / f"{name}.parquet")
        assert table.column_names == header, name
        assert table.num_rows == len(rows) == doc["files"][name]["rows"], name
        assert len(rows) > 0, name
        for j, col in enumerate(header):
            got = table.column(col).to_numpy(zero_copy_only=False)
            if col in ("track_id", "target_id"):
                assert got.dtype == np.int64
                want = np.array([int(r[j]) for r in rows], np.int64)
            elif col == "saturated":
                assert got.dtype == np.bool_
                want = np.array([bool(int(r[j])) for r in rows])
            else:
                assert got.dtype == np.float64, (name, col)
                want = np.array([float(r[j]) for r in rows])
            np.testing.assert_array_equal(got, want, err_msg=f"{name}.{col}")


def test_values_match_the_recording_bit_for_bit(recording, exported, pq):
    d, _ = exported
    rec = read_recording(recording)
    det = pq.read_table(d / "pq" / "detections.parquet")
    np.testing.assert_array_equal(det.column("range").to_numpy(),
                                  np.concatenate([x.range for x in rec.detections()]))
    np.testing.assert_array_equal(det.column("azimuth").to_numpy(),
                                  np.concatenate([x.az for x in rec.detections()]))
    cmd = pq.read_table(d / "pq" / "commands.parquet")
    np.testing.assert_array_equal(cmd.column("ay").to_numpy(),
                                  np.concatenate([c.a_cmd[:, 1] for c in rec.commands()]))
    tr = pq.read_table(d / "pq" / "tracks.parquet")
    conf = [t.take(np.flatnonzero(t.confirmed)) for t in rec.tracks()]
    np.testing.assert_array_equal(tr.column("track_id").to_numpy(),
                                  np.concatenate([c.id for c in conf]))
    np.testing.assert_array_equal(tr.column("vx").to_numpy(),
                                  np.concatenate([c.x[:, 3] for c in conf]))


def test_schema_version_and_provenance_in_the_file_metadata(recording, exported, pq):
    d, _ = exported
    rec = read_recording(recording)
    for name in TABLES:
        meta = pq.read_metadata(d / "pq" / f"{name}.parquet").metadata
        assert meta[b"xband_schema_version"] == PARQUET_SCHEMA_VERSION.encode()
        assert meta[b"xband_table"] == name.encode()
        assert meta[b"xband_complete"] == b"true"
        assert meta[b"xband_recording"] == str(recording).encode()
        assert json.loads(meta[b"xband_header"])["seed"] == rec.header["seed"]
    assert not list((d / "pq").glob("*.part"))


def test_torn_recording_exports_what_it_holds(recording, pq, tmp_path, capsys):
    torn = tmp_path / "torn.xrec"
    data = recording.read_bytes()
    torn.write_bytes(data[: len(data) // 2 + 3])
    assert cli_main(["export", str(torn), "--to", "parquet", str(tmp_path / "pq")]) == 0
    assert "INTERRUPTED" in capsys.readouterr().out
    meta = pq.read_metadata(tmp_path / "pq" / "tracks.parquet").metadata
    assert meta[b"xband_complete"] == b"false"
    n = pq.read_table(tmp_path / "pq" / "detections.parquet").num_rows
    assert 0 < n == sum(len(x) for x in read_recording(torn).detections())


def test_empty_recording_gives_empty_typed_tables(pq, tmp_path, capsys):
    from xband.io.recording import RecordingWriter

    rec = tmp_path / "empty.xrec"
    with RecordingWriter(rec, {"scenario": "none", "seed": 0}):
        pass
    assert cli_main(["export", str(rec), "--to", "parquet", str(tmp_path / "pq")]) == 0
    capsys.readouterr()
    t = pq.read_table(tmp_path / "pq" / "tracks.parquet")
    assert t.num_rows == 0 and t.column_names[:3] == ["t", "track_id", "x"]
    assert str(t.schema.field("track_id").type) == "int64"
    assert str(pq.read_table(tmp_path / "pq" / "commands.parquet").schema
               .field("saturated").type) == "bool"


def test_missing_pyarrow_names_the_extra(recording, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    rc = cli_main(["export", str(recording), "--to", "parquet", str(tmp_path / "pq")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "xband: error: --to parquet needs pyarrow" in err
    assert "'parquet' extra" in err and "xband[parquet]" in err
    assert not (tmp_path / "pq").exists()

"""CSV writers create missing parent directories and name an unwritable path."""
from __future__ import annotations

import pytest

from xband.errors import InputError
from xband.io.csvio import TrackWriter, write_detections


def test_writers_create_parent_directories(tmp_path):
    out = tmp_path / "a" / "b" / "dets.csv"
    assert write_detections(out, []) == 0
    assert out.read_text().startswith("t,")
    w = TrackWriter(tmp_path / "c" / "tracks.csv")
    w.close()
    assert (tmp_path / "c" / "tracks.csv").exists()


def test_unwritable_path_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="file/sub/dets.csv"):
        write_detections(blocker / "sub" / "dets.csv", [])
    with pytest.raises(InputError, match="tracks.csv"):
        TrackWriter(blocker / "tracks.csv")


@pytest.mark.parametrize("data, words", [
    (b"\x8e\xff\x00binary", ["not UTF-8"]),                       # bad bytes in the header
    (b"t,range,azimuth,elevation,range_rate,snr_db\n1,2,3,4,5,6\n\xff\xfe,1\n", ["not UTF-8"]),
    (b't,range,azimuth,elevation,range_rate,snr_db\n"' + b"9" * 200_000 + b'"\n',
     ["dets.csv:2", "malformed CSV", "field larger"]),                 # csv.Error
])
def test_undecodable_or_malformed_csv_is_named_not_a_traceback(tmp_path, data, words):
    from xband.io.adsb import read_adsb
    from xband.io.csvio import read_detections
    from xband.io.geodetic import Site

    f = tmp_path / "dets.csv"
    f.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_detections(f, default_sigma=(5.0, 1e-3, 1e-3, 1.0))
    assert "dets.csv" in str(info.value) and all(w in str(info.value) for w in words)
    if words == ["not UTF-8"]:
        with pytest.raises(InputError, match="dets.csv: not UTF-8"):
            read_adsb(f, Site(49.0, 2.5, 100.0))

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

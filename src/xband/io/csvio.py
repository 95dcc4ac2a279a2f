"""CSV interchange of DESIGN.md: detections, tracks and truth tables (SI units, radians).

* Detections: ``t,range,azimuth,elevation,range_rate,snr_db`` plus optional
  ``sigma_range,sigma_azimuth,sigma_elevation,sigma_range_rate``; one row per detection,
  ``t`` the scan (CPI) time. Empty cells and ``nan`` read as NaN (e.g. the angles of a
  sum-only receiver).
* Tracks: ``t,track_id,x,y,z,vx,vy,vz`` plus optional ``ax,ay,az``, the covariance
  diagonal ``var_x … var_vz`` and mode probabilities ``mu_0 …``; one row per confirmed track
  after each scan.
* Truth: ``t,target_id,x,y,z,vx,vy,vz``.
"""
from __future__ import annotations

import csv
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..types import Detections, Tracks

DET_COLUMNS = ["t", "range", "azimuth", "elevation", "range_rate", "snr_db"]
DET_SIGMAS = ["sigma_range", "sigma_azimuth", "sigma_elevation", "sigma_range_rate"]
TRACK_COLUMNS = ["t", "track_id", "x", "y", "z", "vx", "vy", "vz"]
TRUTH_COLUMNS = ["t", "target_id", "x", "y", "z", "vx", "vy", "vz"]


def _float(path, line, col, text):
    if text is None or text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{path}:{line}: column {col!r}: not a number: {text!r}") from None


@contextmanager
def table_reader(path, required: list[str]):
    """Open a CSV table for reading: yields (DictReader, column names); an InputError names
    the file when it cannot be read or lacks a required column."""
    path = Path(path)
    try:
        f = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with f:
        rd = csv.DictReader(f)
        try:
            cols = rd.fieldnames or []
            missing = [c for c in required if c not in cols]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)} "
                                 f"(expected {','.join(required)})")
            yield rd, cols
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text (a CSV table was expected)") from None
        except csv.Error as exc:       # the record that failed starts on the next line
            raise InputError(f"{path}:{rd.line_num + 1}: malformed CSV: {exc}") from None


def read_detections(path, default_sigma=None) -> list[Detections]:
    """Read a detections CSV into one ``Detections`` per scan (rows grouped by ``t``, in
    time order). R is diagonal from the ``sigma_*`` columns, or from ``default_sigma``
    (range m, az rad, el rad, range-rate m/s) where the file has none."""
    path = Path(path)
    with table_reader(path, DET_COLUMNS) as (rd, cols):
        has_sig = all(c in cols for c in DET_SIGMAS)
        if not has_sig and default_sigma is None:
            raise InputError(f"{path}: no sigma_* columns; give default measurement sigmas")
        rows = []
        for line, r in enumerate(rd, start=2):
            vals = [_float(path, line, c, r.get(c)) for c in DET_COLUMNS]
            sig = ([_float(path, line, c, r.get(c)) for c in DET_SIGMAS] if has_sig
                   else list(default_sigma))
            if math.isnan(vals[0]):
                raise InputError(f"{path}:{line}: column 't' is empty")
            rows.append(vals + sig)
    if not rows:
        return []
    a = np.array(rows, float)
    a = a[np.argsort(a[:, 0], kind="stable")]
    out = []
    for t in np.unique(a[:, 0]):
        b = a[a[:, 0] == t]
        n = len(b)
        R = np.zeros((n, 4, 4))
        R[:, range(4), range(4)] = b[:, 6:10] ** 2
        out.append(Detections(t=b[:, 0], range=b[:, 1], az=b[:, 2], el=b[:, 3],
                              range_rate=b[:, 4], snr=10 ** (b[:, 5] / 10), R=R))
    return out


def _open_part(path: Path):
    """Open ``PATH.part`` for writing (created with its parent directories); an InputError
    names the path when it cannot be written."""
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tmp, tmp.open("w", newline="", encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None


def write_detections(path, scans, sigmas: bool = True) -> int:
    """Write scans of Detections; returns rows written. The file is written to a temporary
    name and renamed, so it is never left half-written."""
    path = Path(path)
    tmp, f = _open_part(path)
    n = 0
    with f:
        w = csv.writer(f)
        w.writerow(DET_COLUMNS + (DET_SIGMAS if sigmas else []))
        for d in scans:
            snr_db = 10 * np.log10(np.maximum(d.snr, 1e-300))
            sd = np.sqrt(np.diagonal(d.R, axis1=1, axis2=2))
            for i in range(len(d)):
                row = [d.t[i], d.range[i], d.az[i], d.el[i], d.range_rate[i], snr_db[i]]
                if sigmas:
                    row += list(sd[i])
                w.writerow([repr(float(v)) for v in row])
                n += 1
    tmp.replace(path)
    return n


class TrackWriter:
    """Stream confirmed tracks to a tracks CSV (to ``PATH.part``, renamed on ``close``)."""

    def __init__(self, path, dim: int = 6, modes: int = 1):
        self.path = Path(path)
        self._tmp, self._f = _open_part(self.path)
        self._w = csv.writer(self._f)
        cols = list(TRACK_COLUMNS)
        self.acc = dim >= 9
        if self.acc:
            cols += ["ax", "ay", "az"]
        cols += ["var_x", "var_y", "var_z", "var_vx", "var_vy", "var_vz"]
        cols += [f"mu_{j}" for j in range(modes)]
        self._w.writerow(cols)
        self.rows = 0

    def write(self, tracks: Tracks) -> None:
        conf = np.flatnonzero(tracks.confirmed)
        for i in conf:
            x = tracks.x[i]
            row = [tracks.t[i], int(tracks.id[i]), *x[:6]]
            if self.acc:
                row += list(x[6:9])
            row += list(np.diagonal(tracks.P[i])[:6])
            row += list(tracks.mode_probs[i])
            self._w.writerow([v if isinstance(v, int) else repr(float(v)) for v in row])
            self.rows += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            self._tmp.replace(self.path)

    def abort(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            self._tmp.unlink(missing_ok=True)

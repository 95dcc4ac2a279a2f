"""SigMF I/Q recordings with the radar described by the ``xband:`` namespace (DESIGN.md).

Global keys written and read:

* ``core:datatype`` ``cf32_le`` or ``ci16_le``; ``core:sample_rate`` (fs);
  ``core:num_channels``; ``core:extensions`` declares ``xband``.
* ``xband:carrier_hz``, ``xband:prf_hz``, ``xband:pulses_per_cpi``, ``xband:waveform``
  (``"lfm"`` | ``"barker13"``), ``xband:pulse_width_s``, ``xband:bandwidth_hz`` (LFM
  up-chirp from −B/2 to +B/2), ``xband:channels`` (e.g. ``["sum", "daz", "del"]``).
* Extensions of this module (optional on read): ``xband:t0_s`` (start time of CPI 0,
  default 0), ``xband:pointing_rad`` ([az, el] of the beam, default [0, 0]),
  ``xband:full_scale`` (cube units of a full-scale ci16 sample, default 1),
  ``xband:beamwidth_az_rad``, ``xband:beamwidth_el_rad``, ``xband:monopulse_slope``.

Annotations, one per CPI (written by :func:`write_sigmf`, optional on read):

* ``core:sample_start``, ``core:sample_count`` — where the CPI lies, in samples (one sample
  = one instant of every channel); ``core:label`` ``"cpi <k>"``;
* ``xband:cpi_index`` (k, from 0), ``xband:t_s`` (transmission time of the CPI's pulse 0,
  s from scenario start), ``xband:pointing_rad`` ([az, el] of the beam for that CPI);
* optional ``xband:v_min_mps``: the lower edge of the folded range-rate window
  [v_min, v_min + 2·v_ua) the radar's detection chain used for that CPI (a velocity gate
  slaved to a target moves it), so that ``xband detect --sigmf`` unfolds range rates (and
  corrects the LFM range-Doppler coupling) as the radar did.

The reader locates CPIs by these annotations (sorted by ``xband:cpi_index``), so CPIs may be
at any times (a scan's CPI every 50 ms, say) and the beam may move between them; without
them it falls back to the global layout: CPI k at sample k·pulses·round(fs/prf), at time
``xband:t0_s + k·CPI duration``, pointing ``xband:pointing_rad``. A CPI annotation with a
wrong ``core:sample_count``, or a missing or non-integer ``core:sample_start``, is an error
naming the annotation and the key.

Layout: channels interleaved sample by sample (``core:num_channels``); each PRI holds
round(fs/prf) samples per channel, sample 0 at the pulse's transmission; CPIs follow one
another. A trailing partial CPI is ignored (reported by ``SigmfRecording.n_cpis``).

Sample formats: ``cf32_le`` stores the cube's complex64 values as they are (a round trip is
bit-exact). ``ci16_le`` stores I and Q as int16 q = clip(round(x / F · 32767), −32768,
32767) with F = ``xband:full_scale`` (by default 1.05 × the largest |I| or |Q| written), and
reads them back as x = q · F / 32767 (error ≤ F / 65534 per component).

Reading is streamed: the data file is memory-mapped and each CPI is copied out on request,
so a file far larger than memory opens at once and iterates in bounded memory. The
``core:sha512`` checksum (written by :func:`write_sigmf`) is verified only on request
(``read_sigmf(path, verify=True)``), since that reads the whole file.
"""
from __future__ import annotations

import hashlib
import mmap
import warnings
from pathlib import Path

import numpy as np

from ..errors import ConfigError, RecordingError
from ..radar.params import RadarParams
from ..types import Cube

__all__ = ["REQUIRED", "DATATYPES", "write_sigmf", "read_sigmf", "SigmfRecording"]

REQUIRED = ("xband:carrier_hz", "xband:prf_hz", "xband:pulses_per_cpi", "xband:waveform",
            "xband:pulse_width_s", "xband:channels")
DATATYPES = ("cf32_le", "ci16_le")
_CI16_MAX = 32767.0


def _sigmf():
    try:
        import sigmf
        from sigmf import sigmffile
    except ImportError as exc:                       # pragma: no cover - dependency missing
        raise RecordingError("SigMF support needs the 'sigmf' package: pip install sigmf") \
            from exc
    return sigmf, sigmffile


def _stem(path) -> Path:
    p = Path(path)
    for ext in (".sigmf-meta", ".sigmf-data"):
        if p.name.endswith(ext):
            return p.with_name(p.name[: -len(ext)])
    return p


def _pointings(pointing, n: int, path) -> list[tuple[float, float]]:
    """One (az, el) per CPI from a single pair or a sequence of n pairs."""
    a = np.asarray(pointing, float)
    if a.shape == (2,):
        return [(float(a[0]), float(a[1]))] * n
    if a.shape == (n, 2):
        return [(float(x), float(y)) for x, y in a]
    raise ConfigError(f"{path}: pointing: expected (az, el) or one (az, el) per CPI "
                      f"({n}), got shape {a.shape}")


def write_sigmf(path, cubes, params: RadarParams, *, datatype: str = "cf32_le",
                pointing=(0.0, 0.0), full_scale: float | None = None,
                description: str = "xband simulated CPIs", v_min=None) -> Path:
    """Write ``cubes`` (CPIs of ``params``, same channels, in order) as
    ``<stem>.sigmf-data`` + ``<stem>.sigmf-meta`` with one annotation per CPI; returns the
    meta path. ``pointing``: the beam's (az, el) for every CPI, or one pair per CPI.
    ``v_min``: the lower edge (m/s) of the folded range-rate window the detection chain used
    for each CPI (a number, or one per CPI; None: not recorded), written as each CPI
    annotation's ``xband:v_min_mps`` so that a replay unfolds range rates the same way."""
    sigmf, _ = _sigmf()
    if datatype not in DATATYPES:
        raise ConfigError(f"sigmf datatype: expected one of {DATATYPES}, got {datatype!r}")
    cubes = list(cubes)
    if not cubes:
        raise RecordingError(f"{path}: no CPI to write")
    chans = cubes[0].channels
    if any(c.channels != chans for c in cubes):
        raise RecordingError(f"{path}: the CPIs have different channels")
    shape = (len(chans), params.pulses_per_cpi, params.samples_per_pri)
    for k, c in enumerate(cubes):
        if c.data.shape != shape:
            raise RecordingError(f"{path}: CPI {k} has shape {c.data.shape}, the radar "
                                 f"parameters give {shape} (channels, pulses, samples)")
    points = _pointings(pointing, len(cubes), path)
    if v_min is None or np.ndim(v_min) == 0:
        vmins = [None if v_min is None else float(v_min)] * len(cubes)
    else:
        vmins = [float(v) for v in v_min]
        if len(vmins) != len(cubes):
            raise RecordingError(f"{path}: {len(vmins)} v_min values for {len(cubes)} CPIs")
    if any(v is not None and not np.isfinite(v) for v in vmins):
        raise RecordingError(f"{path}: v_min must be finite")
    nch = len(chans)
    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    data_path = stem.with_name(stem.name + ".sigmf-data")
    if datatype == "cf32_le":
        fs_units = 1.0
    else:
        fs_units = float(full_scale or max(1e-30, 1.05 * max(
            float(np.max(np.abs(c.data.view(np.float32)))) for c in cubes)))
    with open(data_path, "wb") as f:
        for c in cubes:                                     # one CPI at a time
            inter = np.ascontiguousarray(np.moveaxis(c.data, 0, -1))   # (P, Ns, ch)
            if datatype == "cf32_le":
                f.write(inter.astype("<c8", copy=False).tobytes())
            else:
                q = np.round(inter.view(np.float32) / np.float32(fs_units) * _CI16_MAX)
                f.write(np.clip(q, -32768, 32767).astype("<i2").tobytes())
    glob = {
        "core:datatype": datatype,
        "core:sample_rate": float(params.sample_rate_hz),
        "core:num_channels": int(nch),
        "core:description": description,
        "core:extensions": [{"name": "xband", "version": "0.1.0", "optional": False}],
        "xband:carrier_hz": float(params.carrier_hz),
        "xband:prf_hz": float(params.prf_hz),
        "xband:pulses_per_cpi": int(params.pulses_per_cpi),
        "xband:waveform": params.waveform,
        "xband:pulse_width_s": float(params.pulse_width_s),
        "xband:bandwidth_hz": float(params.bandwidth_hz),
        "xband:channels": list(chans),
        "xband:t0_s": float(cubes[0].t),
        "xband:pointing_rad": list(points[0]),
        "xband:full_scale": fs_units,
        "xband:beamwidth_az_rad": float(params.beamwidth_az_rad),
        "xband:beamwidth_el_rad": float(params.beamwidth_el_rad),
        "xband:monopulse_slope": float(params.monopulse_slope),
    }
    meta = sigmf.SigMFFile(data_file=str(data_path), global_info=glob, skip_checksum=False)
    meta.add_capture(0, metadata={})
    per = params.pulses_per_cpi * params.samples_per_pri
    for k, (c, pt, vm) in enumerate(zip(cubes, points, vmins)):
        ann = {"core:label": f"cpi {k}", "xband:cpi_index": k, "xband:t_s": float(c.t),
               "xband:pointing_rad": list(pt)}
        if vm is not None:
            ann["xband:v_min_mps"] = vm
        meta.add_annotation(k * per, per, metadata=ann)
    meta_path = stem.with_name(stem.name + ".sigmf-meta")
    meta.tofile(str(meta_path), skip_validate=True, overwrite=True)
    return meta_path


class SigmfRecording:
    """A SigMF recording opened for reading: ``params``, ``channels``, ``n_cpis``,
    ``cube(i)`` and ``pointing_of(i)``; ``cpis()`` yields (cube, pointing) pairs and
    iteration yields the cubes. ``pointing`` is the beam direction of the CPI iteration
    last yielded (the global ``xband:pointing_rad`` before that)."""

    def __init__(self, path, *, verify: bool = False):
        _, sigmffile = _sigmf()
        self.path = Path(path)
        meta_path = _stem(self.path).with_name(_stem(self.path).name + ".sigmf-meta")
        self.meta_path = meta_path
        if not meta_path.exists():
            raise RecordingError(f"{meta_path}: no such SigMF metadata file")
        try:
            with warnings.catch_warnings():    # a data file cut short is reported by n_cpis
                warnings.filterwarnings("ignore", "Data source ends before", UserWarning)
                self._f = sigmffile.fromfile(str(meta_path), skip_checksum=True)
        except Exception as exc:                            # sigmf raises many kinds
            raise RecordingError(f"{meta_path}: not a readable SigMF recording: {exc}") \
                from None
        g = self._f.get_global_info()
        for k in REQUIRED:
            if k not in g:
                raise RecordingError(f"{meta_path}: global key {k!r} missing (the xband: "
                                     f"namespace needs {', '.join(REQUIRED)})")
        dt = g.get("core:datatype")
        if dt not in DATATYPES:
            raise RecordingError(f"{meta_path}: core:datatype {dt!r} unsupported "
                                 f"(expected one of {DATATYPES})")
        self.datatype = dt
        self.channels = tuple(g["xband:channels"])
        nch = int(g.get("core:num_channels", 1))
        if len(self.channels) != nch:
            raise RecordingError(f"{meta_path}: xband:channels names {len(self.channels)} "
                                 f"channels, core:num_channels is {nch}")
        kw = dict(carrier_hz=g["xband:carrier_hz"], prf_hz=g["xband:prf_hz"],
                  pulses_per_cpi=int(g["xband:pulses_per_cpi"]), waveform=g["xband:waveform"],
                  pulse_width_s=g["xband:pulse_width_s"],
                  sample_rate_hz=g["core:sample_rate"])
        if "xband:bandwidth_hz" in g:
            kw["bandwidth_hz"] = g["xband:bandwidth_hz"]
        elif kw["waveform"] == "barker13":
            kw["bandwidth_hz"] = 13.0 / kw["pulse_width_s"]
        for k in ("beamwidth_az_rad", "beamwidth_el_rad", "monopulse_slope"):
            if f"xband:{k}" in g:
                kw[k] = g[f"xband:{k}"]
        try:
            self.params = RadarParams(**kw)
        except ConfigError as exc:
            raise RecordingError(f"{meta_path}: {exc}") from None
        self.t0 = float(g.get("xband:t0_s", 0.0))
        self.pointing = self._pair(g.get("xband:pointing_rad", (0.0, 0.0)),
                                   "global xband:pointing_rad")
        self.full_scale = float(g.get("xband:full_scale", 1.0))
        self.cpi_samples = self.params.pulses_per_cpi * self.params.samples_per_pri
        self.data_path = meta_path.with_name(meta_path.name[:-len(".sigmf-meta")]
                                             + ".sigmf-data")
        if not self.data_path.exists():
            raise RecordingError(f"{self.data_path}: no such SigMF data file")
        if verify:
            self._verify(g.get("core:sha512"))
        # the data, memory-mapped: a CPI is copied out only when asked for, and its pages
        # are then handed back (MADV_DONTNEED), so iterating a huge file keeps memory flat
        self._unit = np.dtype("<c8") if dt == "cf32_le" else np.dtype("<i2")
        self._per_sample = self._unit.itemsize * nch * (1 if dt == "cf32_le" else 2)
        size = self.data_path.stat().st_size
        self.total_samples = size // self._per_sample
        self._map = None
        if size:
            with open(self.data_path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._nch = nch
        self._layout = self._cpi_layout(self._f.get_annotations())
        self.n_cpis = len(self._layout)

    # ---------------------------------------------------------------- metadata
    def _pair(self, v, what: str) -> tuple[float, float]:
        try:
            az, el = (float(x) for x in v)
        except (TypeError, ValueError):
            raise RecordingError(f"{self.meta_path}: {what} must be [az, el] (rad), "
                                 f"got {v!r}") from None
        return az, el

    def _verify(self, want) -> None:
        if not want:
            raise RecordingError(f"{self.meta_path}: verify requested but the global key "
                                 f"'core:sha512' is missing")
        h = hashlib.sha512()
        with open(self.data_path, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        if h.hexdigest() != want:
            raise RecordingError(f"{self.meta_path}: core:sha512 does not match the data "
                                 f"file {self.data_path.name} (corrupt or modified)")

    def _cpi_layout(self, annotations) -> list[tuple[int, float, tuple[float, float]]]:
        """(sample_start, t, pointing) of every whole CPI in the file."""
        per, p = self.cpi_samples, self.params
        cpis = [a for a in annotations if "xband:cpi_index" in a]
        if not cpis:                                   # the global layout
            n = self.total_samples // per
            self._vmins = [None] * n
            return [(k * per, self.t0 + k * p.cpi_duration_s, self.pointing)
                    for k in range(n)]
        out = []
        for a in cpis:
            k = a["xband:cpi_index"]
            what = f"annotation of CPI {k!r}"
            start = a.get("core:sample_start")
            if not isinstance(k, int) or isinstance(k, bool) or k < 0:
                raise RecordingError(f"{self.meta_path}: {what}: xband:cpi_index must be an "
                                     f"integer ≥ 0")
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise RecordingError(f"{self.meta_path}: {what}: core:sample_start must be "
                                     f"an integer ≥ 0, got {start!r}")
            count = a.get("core:sample_count")
            if count != per:
                raise RecordingError(
                    f"{self.meta_path}: {what}: core:sample_count is {count!r}, a CPI of "
                    f"{p.pulses_per_cpi} pulses × {p.samples_per_pri} samples is {per}")
            t = a.get("xband:t_s", self.t0 + k * p.cpi_duration_s)
            if not isinstance(t, (int, float)) or isinstance(t, bool):
                raise RecordingError(f"{self.meta_path}: {what}: xband:t_s must be a "
                                     f"number, got {t!r}")
            pt = self._pair(a["xband:pointing_rad"], f"{what}: xband:pointing_rad") \
                if "xband:pointing_rad" in a else self.pointing
            vm = a.get("xband:v_min_mps")
            if vm is not None and (not isinstance(vm, (int, float)) or isinstance(vm, bool)
                                   or not np.isfinite(vm)):
                raise RecordingError(f"{self.meta_path}: {what}: xband:v_min_mps must be a "
                                     f"finite number, got {vm!r}")
            out.append((k, start, float(t), pt, None if vm is None else float(vm)))
        out.sort()
        ks = [o[0] for o in out]
        if len(set(ks)) != len(ks):
            raise RecordingError(f"{self.meta_path}: xband:cpi_index repeated in the CPI "
                                 f"annotations")
        # a CPI cut by the end of the data (an interrupted recording) is not there
        whole = [o for o in out if o[1] + per <= self.total_samples]
        self._vmins = [o[4] for o in whole]
        return [(s, t, pt) for _, s, t, pt, _ in whole]

    # ---------------------------------------------------------------- samples
    def v_min_of(self, i: int) -> float | None:
        """The lower edge (m/s) of CPI ``i``'s folded range-rate window as recorded
        (``xband:v_min_mps``), or None when the recording does not say."""
        self._check(i)
        return self._vmins[i]

    def pointing_of(self, i: int) -> tuple[float, float]:
        """The beam (az, el) of CPI ``i`` (its annotation, else the global pointing)."""
        self._check(i)
        return self._layout[i][2]

    def _check(self, i: int) -> None:
        if not (0 <= i < self.n_cpis):
            raise RecordingError(f"{self.path}: CPI {i} out of range (0…{self.n_cpis - 1})")

    def cube(self, i: int) -> Cube:
        """CPI ``i`` as a complex64 Cube (copied out of the memory map)."""
        self._check(i)
        p, nch = self.params, self._nch
        start, t, _ = self._layout[i]
        off = start * self._per_sample
        count = self.cpi_samples * nch * (1 if self.datatype == "cf32_le" else 2)
        x = np.frombuffer(self._map, self._unit, count, off)
        if self.datatype == "ci16_le":
            x = x.astype(np.float32) * np.float32(self.full_scale / _CI16_MAX)
            x = x.view(np.complex64)
        x = x.reshape(p.pulses_per_cpi, p.samples_per_pri, nch)
        cube = Cube(data=np.moveaxis(x, -1, 0), t=t, channels=self.channels)   # a copy
        del x
        self._release(off, count * self._unit.itemsize)
        return cube

    def _release(self, off: int, n: int) -> None:
        """Drop the pages of bytes [off, off + n) from this process (they stay in the
        page cache): memory does not grow with the part of the file read."""
        if hasattr(self._map, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            a = off - off % mmap.PAGESIZE
            self._map.madvise(mmap.MADV_DONTNEED, a, off + n - a)

    def close(self) -> None:
        """Unmap the data file (also done when the object is collected)."""
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:             # a cube view still alive: leave it to the GC
                return
            self._map = None

    def cpis(self):
        """(cube, pointing) of every CPI, in order."""
        for i in range(self.n_cpis):
            yield self.cube(i), self._layout[i][2]

    def __iter__(self):
        for cube, pt in self.cpis():
            self.pointing = pt
            yield cube

    def __len__(self) -> int:
        return self.n_cpis


def read_sigmf(path, *, verify: bool = False) -> SigmfRecording:
    """Open a SigMF recording (``.sigmf-meta`` or ``.sigmf-data`` path, or their stem).
    ``verify=True`` checks the data against ``core:sha512`` (reads the whole file)."""
    return SigmfRecording(path, verify=verify)

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

Layout: channels interleaved sample by sample (``core:num_channels``); each PRI holds
round(fs/prf) samples per channel, sample 0 at the pulse's transmission; CPIs follow one
another. A trailing partial CPI is ignored (reported by ``SigmfRecording.n_cpis``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, RecordingError
from ..radar.params import RadarParams
from ..types import Cube

REQUIRED = ("xband:carrier_hz", "xband:prf_hz", "xband:pulses_per_cpi", "xband:waveform",
            "xband:pulse_width_s", "xband:channels")
DATATYPES = ("cf32_le", "ci16_le")


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


def write_sigmf(path, cubes, params: RadarParams, *, datatype: str = "cf32_le",
                pointing=(0.0, 0.0), full_scale: float | None = None,
                description: str = "xband simulated CPIs") -> Path:
    """Write ``cubes`` (consecutive CPIs of ``params``, same channels) as
    ``<stem>.sigmf-data`` + ``<stem>.sigmf-meta``; returns the meta path."""
    sigmf, _ = _sigmf()
    if datatype not in DATATYPES:
        raise ConfigError(f"sigmf datatype: expected one of {DATATYPES}, got {datatype!r}")
    cubes = list(cubes)
    if not cubes:
        raise RecordingError(f"{path}: no CPI to write")
    chans = cubes[0].channels
    data = np.stack([c.data for c in cubes])               # (cpi, ch, P, Ns)
    if any(c.channels != chans for c in cubes):
        raise RecordingError(f"{path}: the CPIs have different channels")
    nch = data.shape[1]
    inter = np.ascontiguousarray(np.moveaxis(data, 1, -1)).reshape(-1)   # (cpi,P,Ns,ch)
    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    data_path = stem.with_name(stem.name + ".sigmf-data")
    if datatype == "cf32_le":
        inter.astype("<c8").tofile(data_path)
        fs_units = 1.0
    else:
        fs_units = float(full_scale or max(1e-30, 1.05 * np.max(np.abs(inter.view(np.float32)))))
        q = np.round(inter.view(np.float32) / fs_units * 32767.0)
        np.clip(q, -32768, 32767).astype("<i2").tofile(data_path)
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
        "xband:pointing_rad": [float(pointing[0]), float(pointing[1])],
        "xband:full_scale": fs_units,
        "xband:beamwidth_az_rad": float(params.beamwidth_az_rad),
        "xband:beamwidth_el_rad": float(params.beamwidth_el_rad),
        "xband:monopulse_slope": float(params.monopulse_slope),
    }
    meta = sigmf.SigMFFile(data_file=str(data_path), global_info=glob, skip_checksum=False)
    meta.add_capture(0, metadata={})
    meta_path = stem.with_name(stem.name + ".sigmf-meta")
    meta.tofile(str(meta_path), skip_validate=True, overwrite=True)
    return meta_path


class SigmfRecording:
    """A SigMF recording opened for reading: ``params``, ``channels``, ``pointing``,
    ``n_cpis`` and ``cube(i)`` / iteration over the CPIs as ``Cube``s."""

    def __init__(self, path):
        _, sigmffile = _sigmf()
        self.path = Path(path)
        meta_path = _stem(self.path).with_name(_stem(self.path).name + ".sigmf-meta")
        if not meta_path.exists():
            raise RecordingError(f"{meta_path}: no such SigMF metadata file")
        try:
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
        self.pointing = tuple(float(v) for v in g.get("xband:pointing_rad", (0.0, 0.0)))
        self.full_scale = float(g.get("xband:full_scale", 1.0))
        self.cpi_samples = self.params.pulses_per_cpi * self.params.samples_per_pri
        self.n_cpis = int(self._f.sample_count // self.cpi_samples)

    def cube(self, i: int) -> Cube:
        p = self.params
        if not (0 <= i < self.n_cpis):
            raise RecordingError(f"{self.path}: CPI {i} out of range (0…{self.n_cpis - 1})")
        x = self._f.read_samples(i * self.cpi_samples, self.cpi_samples)
        x = np.asarray(x, np.complex64).reshape(p.pulses_per_cpi, p.samples_per_pri, -1)
        if self.full_scale != 1.0:
            x = x * np.complex64(self.full_scale * 32768.0 / 32767.0)
        return Cube(data=np.moveaxis(x, -1, 0), t=self.t0 + i * p.cpi_duration_s,
                    channels=self.channels)

    def __iter__(self):
        for i in range(self.n_cpis):
            yield self.cube(i)


def read_sigmf(path) -> SigmfRecording:
    """Open a SigMF recording (``.sigmf-meta`` or ``.sigmf-data`` path, or their stem)."""
    return SigmfRecording(path)

"""PNG figures (matplotlib, Agg backend; imported only when a plot is written)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def engagement(result, path: str | Path, title: str = "") -> Path:
    """Four panels: top view (ENU x-y) with trajectories, detections and confirmed tracks;
    altitude vs time; range to go (log) vs time; commanded vs achieved acceleration."""
    plt = _plt()
    h = result.history
    m, tp, t = h["m_pos"], h["t_pos"], h["t"]
    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    a = ax[0, 0]
    dets = h["scans"]["dets"]
    if dets:
        r = np.concatenate([d.range for d in dets])
        az = np.concatenate([d.az for d in dets])
        el = np.concatenate([d.el for d in dets])
        ok = np.isfinite(az) & np.isfinite(el)
        gx, gy = r * np.cos(el) * np.sin(az), r * np.cos(el) * np.cos(az)
        a.plot(gx[ok] / 1e3, gy[ok] / 1e3, ".", ms=2, color="0.7", label="detections")
    tracks = h["scans"]["tracks"]
    ids = np.unique(np.concatenate([tr.id for tr in tracks])) if tracks else []
    for i, tid in enumerate(ids):
        pts = np.array([tr.x[tr.id == tid][0, :2] for tr in tracks if tid in tr.id])
        a.plot(pts[:, 0] / 1e3, pts[:, 1] / 1e3, "-", lw=1, color="tab:green",
               label="confirmed tracks" if i == 0 else None)
    if len(t):
        a.plot(tp[:, 0] / 1e3, tp[:, 1] / 1e3, "--", color="tab:red", label="target (truth)")
        a.plot(m[:, 0] / 1e3, m[:, 1] / 1e3, "-", color="tab:blue", label="interceptor")
        a.plot([0], [0], "k^", label="radar")
        a.plot(m[-1, 0] / 1e3, m[-1, 1] / 1e3, "kx")
    if len(t):
        pts = np.concatenate([m[:, :2], tp[:, :2], [[0.0, 0.0]]]) / 1e3
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.15 * max(hi - lo) + 0.2
        a.set_xlim(lo[0] - pad, hi[0] + pad)
        a.set_ylim(lo[1] - pad, hi[1] + pad)
    a.set_xlabel("east (km)")
    a.set_ylabel("north (km)")
    a.set_aspect("equal", adjustable="box")
    a.legend(loc="best", fontsize=8)
    a.set_title("top view")
    a = ax[0, 1]
    if len(t):
        a.plot(t, tp[:, 2], "--", color="tab:red", label="target")
        a.plot(t, m[:, 2], "-", color="tab:blue", label="interceptor")
    a.set_xlabel("time (s)")
    a.set_ylabel("altitude (m)")
    a.legend(fontsize=8)
    a.set_title("altitude")
    a = ax[1, 0]
    if len(t):
        a.semilogy(t, np.maximum(h["range"], 1e-3))
    a.axvline(result.t_closest_s, color="k", lw=0.8, ls=":")
    a.set_xlabel("time (s)")
    a.set_ylabel("range to go (m)")
    a.set_title(f"miss distance {result.miss_distance_m:.2f} m at t = {result.t_closest_s:.3f} s")
    a = ax[1, 1]
    if len(t):
        a.plot(t, np.linalg.norm(h["a_cmd"], axis=1) / 9.80665, label="|a| commanded")
        a.plot(t, np.linalg.norm(h["a_ach"], axis=1) / 9.80665, label="|a| achieved")
    a.set_xlabel("time (s)")
    a.set_ylabel("acceleration (g)")
    a.legend(fontsize=8)
    a.set_title("interceptor acceleration")
    fig.suptitle(title or "xband engagement")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

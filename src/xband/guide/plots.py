"""PNG figures of the guidance studies (matplotlib, Agg; imported only when plotting)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

G0 = 9.80665


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def engagement(history: dict, path, title: str = "", miss: float = float("nan"),
               t_cpa: float = float("nan")) -> Path:
    """Trajectories (top view), commanded vs achieved acceleration, range to go."""
    plt = _plt()
    h = history
    t, m, tp = h["t"], h["m_pos"], h["t_pos"]
    fig, ax = plt.subplots(1, 3, figsize=(16, 5))
    a = ax[0]
    if len(t):
        a.plot(tp[:, 0], tp[:, 1], "--", color="tab:red", label="target")
        a.plot(m[:, 0], m[:, 1], "-", color="tab:blue", label="interceptor")
        a.plot(m[-1, 0], m[-1, 1], "kx")
    a.set_xlabel("east (m)")
    a.set_ylabel("north (m)")
    a.set_title("trajectories (top view)")
    a.legend(fontsize=8)
    a = ax[1]
    if len(t):
        ac, aa = np.asarray(h["a_cmd"]), np.asarray(h["a_ach"])
        a.step(t, np.linalg.norm(ac, axis=1) / G0, where="post", label="|a| commanded")
        a.plot(t, np.linalg.norm(aa, axis=1) / G0, label="|a| achieved")
    a.set_xlabel("time (s)")
    a.set_ylabel("acceleration (g)")
    a.set_title("commanded vs achieved acceleration")
    a.legend(fontsize=8)
    a = ax[2]
    if len(t):
        a.semilogy(t, np.maximum(h["range"], 1e-3))
    if np.isfinite(t_cpa):
        a.axvline(t_cpa, color="k", lw=0.8, ls=":")
    a.set_xlabel("time (s)")
    a.set_ylabel("range (m)")
    a.set_title(f"miss {miss:.3g} m at t = {t_cpa:.3f} s")
    fig.suptitle(title or "xband engage")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def campaign(res: dict, summary: dict, path, title: str = "") -> Path:
    """Histogram and empirical CDF of the miss distance, with the CEP."""
    plt = _plt()
    miss = res["miss_m"][res["status"] == 1]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    if miss.size:
        ax[0].hist(miss, bins=min(60, max(10, miss.size // 20)), color="tab:blue")
        xs = np.sort(miss)
        ax[1].plot(xs, np.arange(1, xs.size + 1) / xs.size)
        for a in ax:
            a.axvline(summary["cep_m"], color="k", ls=":", label=f"CEP {summary['cep_m']:.3g} m")
    ax[0].set_xlabel("miss distance (m)")
    ax[0].set_ylabel("runs")
    ax[0].set_title("histogram")
    ax[1].set_xlabel("miss distance (m)")
    ax[1].set_ylabel("fraction of runs ≤ miss")
    ax[1].set_title("empirical CDF")
    ax[1].legend(fontsize=8)
    fig.suptitle(title or f"xband montecarlo — {summary['runs']} runs")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

"""Clustering of CFAR crossings into detections (numpy twin of ext/cluster.pyx).

Input: ``idx`` (n,) int64 flat indices d·Nr + r of the crossings of a [doppler, range] map,
sorted ascending (as the CFAR writes them), and the float32 ``power`` map [M, Nr]. Crossings
are grouped into 8-connected components: neighbours differ by at most one Doppler bin and
one range gate, and Doppler is circular (the fftshifted axis of a DFT: bin M − 1 touches
bin 0, so a target at the ±PRF/2 edge, whose crossings sit in the first and the last bins,
stays one component; when M > 2); range does not wrap. For each component c, numbered in
the order of its first (smallest) index:

* ``label[i]``: the component of crossing i;
* ``peak[c]``: the flat index of its most powerful cell (the first one on a tie);
* ``size[c]``: its number of cells;
* ``centroid[c]``: (power-weighted mean Doppler bin, power-weighted mean range gate,
  total power). The Doppler mean is circular around the peak: d_pk + Σ w·δ / Σ w with
  δ = d − d_pk wrapped into [−M/2, M/2) (when M > 2), folded back into [0, M); so a
  cluster straddling the edge gets a centroid next to the edge, not in the middle of the
  axis. (A component longer than M/2 bins in Doppler has no meaningful circular mean.)

Returns the number of components. ``label`` is also the union-find workspace; ``peak``,
``size`` and ``centroid`` must have room for n rows.
"""
import numpy as np


def cluster_peaks(power, idx, label, peak, size, centroid):
    n = idx.shape[0]
    if n == 0:
        return 0
    Nr = power.shape[1]
    d, r = np.divmod(idx, Nr)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    M = power.shape[0]
    pos = {int(v): i for i, v in enumerate(idx)}
    for i in range(n):
        for dd, dr in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
            rr = r[i] + dr
            dn = d[i] + dd
            if dn < 0 and M > 2:
                dn += M                                  # Doppler wraps: row 0 ↔ row M − 1
            if dn < 0 or rr < 0 or rr >= Nr:
                continue
            j = pos.get(int(dn * Nr + rr))
            if j is not None:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)   # the root is the smallest index
    roots = np.array([find(i) for i in range(n)])
    uniq, lab = np.unique(roots, return_inverse=True)   # roots ascending = first appearance
    label[:] = lab
    nc = uniq.size
    pw = power.reshape(-1)[idx].astype(np.float64)
    for c in range(nc):
        m = np.nonzero(lab == c)[0]
        k = m[np.argmax(pw[m])]                          # argmax: first on a tie
        peak[c] = idx[k]
        size[c] = m.size
        w = pw[m]
        tot = w.sum()
        dp = d[k]
        off = d[m] - dp
        if M > 2:
            off = np.where(2 * off >= M, off - M, np.where(2 * off < -M, off + M, off))
        x = dp + (w * off).sum() / tot
        centroid[c, 0] = x + M if x < 0 else (x - M if x >= M else x)
        centroid[c, 1] = (w * r[m]).sum() / tot
        centroid[c, 2] = tot
    return nc


# ------------------------------------------------------------------ per-CPI peak work
# The detection chain's glue after clustering (xband.detect.chain.process), as the numpy
# code it has always been; ext/cluster.pyx does the same operations in the same order.


def peak_cells(power, peak, noise, min_snr, blank, ext, psl_r, psl_d, sel, d, r, snr, nb):
    """Cluster peaks (flat indices, nc of them) → the kept clusters; returns their count k.

    d, r = divmod(peak, Nr); snr = max(P/noise − 1, 1e-3) (P the peak power, float64; NaN
    stays NaN); kept: snr ≥ min_snr and, when ``blank`` and more than one is kept so far,
    not a sidelobe of any cluster j: (Doppler distance ≤ 1 (circular over M), 0 < range
    distance ≤ ext, P_i/P_j < psl_r) or (range distance ≤ 1, Doppler distance > 0,
    P_i/P_j < psl_d). Writes, for the kept ones in order: ``sel[:k]`` their cluster
    numbers, ``d``, ``r``, ``snr``, and ``nb[:6k]`` the float32 powers [6][k] at
    (d, r−1), (d, r), (d, r+1), (d−1, r), (d, r), (d+1, r) (both axes wrap; the chain's
    gates never touch the range edges)."""
    nc = peak.shape[0]
    if sel.shape[0] < nc or d.shape[0] < nc or r.shape[0] < nc or snr.shape[0] < nc \
            or nb.shape[0] < 6 * nc:
        raise ValueError("peak_cells: output buffers shorter than the peaks")
    M, Nr = power.shape
    dd_, rr_ = np.divmod(peak, Nr)
    pw0 = power[dd_, rr_].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):     # 0 powers: inf/NaN, kept
        s = np.maximum(pw0 / noise - 1.0, 1e-3)
    keep = s >= min_snr
    if blank and keep.sum() > 1:
        dd = np.abs(dd_[:, None] - dd_[None, :])
        dd = np.minimum(dd, M - dd)
        dr = np.abs(rr_[:, None] - rr_[None, :])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = pw0[:, None] / pw0[None, :]
        rng_sl = (dd <= 1) & (dr > 0) & (dr <= ext) & (ratio < psl_r)
        dop_sl = (dr <= 1) & (dd > 0) & (ratio < psl_d)
        keep &= ~np.any(rng_sl | dop_sl, axis=1)
    k = int(keep.sum())
    sel[:k] = np.nonzero(keep)[0]
    dk, rk = dd_[keep], rr_[keep]
    d[:k], r[:k], snr[:k] = dk, rk, s[keep]
    nb[:6 * k] = np.concatenate([power[dk, (rk - 1) % Nr], power[dk, rk],
                                 power[dk, (rk + 1) % Nr], power[(dk - 1) % M, rk],
                                 power[dk, rk], power[(dk + 1) % M, rk]])
    return k


def _log_parabola(lm, l0, lp):
    # xband.detect.estimate.log_parabola after its np.log (the float32 logs given)
    den = lm - 2.0 * l0 + lp
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(den < 0, 0.5 * (lm - lp) / den, 0.0)
    return np.clip(x, -0.5, 0.5)


def peak_estimates(lg, d, r, snr, M, prf, c_rr, v_min, period, gate_m, couple, t_mid, kd,
                   bd, vbin2, kr, br, gm2, c2, out):
    """``lg[:6k]`` = ln of ``peak_cells``' nb (float32) → ``out[:, :k]``: range at t,
    range rate, var range, var range rate (xband.detect.chain module doc). dr, dd the
    log-parabola offsets (float32); f = (d + dd − M/2)·prf/M; ṙ = v_min + mod(c_rr·f −
    v_min, period); range = (r + dr)·gate_m − couple·ṙ − ṙ·t_mid; var ṙ = (kd/snr + bd)·
    vbin2; var R = (kr/snr + br)·gm2 + c2·var ṙ."""
    k = d.shape[0]
    if lg.shape[0] < 6 * k or r.shape[0] < k or snr.shape[0] < k or out.shape[0] < 4 \
            or out.shape[1] < k:
        raise ValueError("peak_estimates: buffers shorter than the peaks")
    lg = lg[:6 * k].reshape(6, k)
    dr = _log_parabola(lg[0], lg[1], lg[2])
    dd = _log_parabola(lg[3], lg[4], lg[5])
    f = (d + dd - M / 2) * prf / M
    rr = c_rr * f
    rr = v_min + np.mod(rr - v_min, period)
    rng_mid = (r + dr) * gate_m - couple * rr
    var_v = (kd / snr + bd) * vbin2
    out[0, :k] = rng_mid - rr * t_mid
    out[1, :k] = rr
    out[2, :k] = (kr / snr + br) * gm2 + c2 * var_v
    out[3, :k] = var_v


def sub_gather(power, lo, hi, step, work):
    """power[:, lo:hi][::step, ::step] in row-major order → work[:n]; returns n."""
    M = power.shape[0]
    if step < 1 or lo < 0 or hi > power.shape[1] or hi <= lo or M < 1:
        raise ValueError(f"sub_gather: bad window [{lo}, {hi}) step {step}")
    n = ((M + step - 1) // step) * ((hi - lo + step - 1) // step)
    if work.shape[0] < n:
        raise ValueError(f"sub_gather: work holds {work.shape[0]} < {n} cells")
    work[:n] = power[:, lo:hi][::step, ::step].ravel()
    return n

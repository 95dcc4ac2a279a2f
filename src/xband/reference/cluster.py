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

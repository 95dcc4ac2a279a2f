"""Clustering of CFAR crossings into detections (numpy twin of ext/cluster.pyx).

Input: ``idx`` (n,) int64 flat indices d·Nr + r of the crossings of a [doppler, range] map,
sorted ascending (as the CFAR writes them), and the float32 ``power`` map. Crossings are
grouped into 8-connected components (neighbours differ by at most one Doppler bin and one
range gate; Doppler adjacency does **not** wrap, so a target exactly at ±v_ua may split in
two). For each component c, numbered in the order of its first (smallest) index:

* ``label[i]``: the component of crossing i;
* ``peak[c]``: the flat index of its most powerful cell (the first one on a tie);
* ``size[c]``: its number of cells;
* ``centroid[c]``: (power-weighted mean Doppler bin, power-weighted mean range gate,
  total power).

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

    pos = {int(v): i for i, v in enumerate(idx)}
    for i in range(n):
        for dd, dr in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
            rr = r[i] + dr
            if d[i] + dd < 0 or rr < 0 or rr >= Nr:
                continue
            j = pos.get(int((d[i] + dd) * Nr + rr))
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
        centroid[c, 0] = (w * d[m]).sum() / tot
        centroid[c, 1] = (w * r[m]).sum() / tot
        centroid[c, 2] = tot
    return nc

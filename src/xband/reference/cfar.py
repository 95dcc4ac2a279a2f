"""2-D CFAR over a range-Doppler power map (numpy twin of ext/cfar.pyx).

``power`` is float32 [doppler, range] (C order), square-law (|X|²) cells. Around the cell
under test (CUT) at (d, r) the window spans Doppler offsets |dd| ≤ Wd = Gd + Td and range
offsets |dr| ≤ Wr = Gr + Tr; the guard rectangle |dd| ≤ Gd, |dr| ≤ Gr (CUT included) is
excluded, leaving N = (2Wr+1)(2Wd+1) − (2Gr+1)(2Gd+1) training cells.

* Doppler is circular (the DFT is periodic), so every Doppler row is tested.
* Range is not: only CUTs with Wr ≤ r < Nr − Wr and r_lo ≤ r < r_hi are tested (the whole
  window inside the map); cells nearer the edges are never declared.

Noise estimate Z (the per-cell mean power) by ``mode``:

* 0 CA: Z = (1/N) Σ training.
* 1 GO / 2 SO: the training cells split into two halves of N/2: "lower" = the cells with
  dr < 0, plus those with dr = 0 and dd < 0; "upper" the mirror image. Z = max / min of the
  two half means (Hansen 1973; Trunk 1978).
* 3 OS: Z = the ``rank``-th smallest training cell (1-based; Rohling 1983).

A cell is a crossing when power > alpha · Z. Crossings are written in row-major order as
flat indices d·Nr + r into ``out_idx`` with Z into ``out_noise``, up to their capacity; the
return value is the total count (larger than the capacity when they overflowed).

CA/GO/SO are O(1) per cell: Doppler box sums are updated incrementally row by row (one
pass over the five rows that enter or leave the boxes), range sums are prefix-sum
differences here and sliding sums in the kernel (the tested gates cut into four segments
slid side by side, each started from a direct sum, so that the four dependency chains
overlap); the two agree to round-off. The kernel reads only the columns the tested
windows cover, [max(r_lo, Wr) − Wr, min(r_hi, Nr − Wr) + Wr); what lies outside them
does not change its output. OS here is the definition (a partition per cell);
the kernel slides a histogram of quantised levels along range and selects exactly only
at the cells that may cross (docs/detection.md), with identical crossings and Z. The map
is expected finite (NaN has no order; −0.0 and negatives are handled).
``work`` (float64, shape (5, ≥ max(Nr + 1, N))) is
scratch space owned by the caller.
"""
import numpy as np

CA, GO, SO, OS = 0, 1, 2, 3


def _dbox(p, lo, hi):
    """Σ_{dd=lo}^{hi} p[(d + dd) mod M, :] for every d."""
    out = np.zeros_like(p)
    for dd in range(lo, hi + 1):
        out += np.roll(p, -dd, axis=0)
    return out


def cfar_2d(power, guard_r, guard_d, train_r, train_d, mode, alpha, rank, r_lo, r_hi,
            work, out_idx, out_noise):
    M, Nr = power.shape
    gr, gd = guard_r, guard_d
    wr, wd = guard_r + train_r, guard_d + train_d
    N = (2 * wr + 1) * (2 * wd + 1) - (2 * gr + 1) * (2 * gd + 1)
    r = np.arange(max(r_lo, wr), min(r_hi, Nr - wr))
    if r.size == 0:
        return 0
    p = power.astype(np.float64)
    if mode == OS:
        pad = np.concatenate([p[M - wd:], p, p[:wd]], axis=0) if wd else p
        win = np.lib.stride_tricks.sliding_window_view(pad, (2 * wd + 1, 2 * wr + 1))
        win = win[:, r - wr]                                    # (M, len(r), 2wd+1, 2wr+1)
        keep = np.ones((2 * wd + 1, 2 * wr + 1), bool)
        keep[wd - gd:wd + gd + 1, wr - gr:wr + gr + 1] = False  # guard cells and CUT
        train = win[..., keep]                                  # (M, len(r), N)
        Z = np.partition(train, rank - 1, axis=-1)[..., rank - 1]
    else:
        SW = _dbox(p, -wd, wd)                                  # full Doppler extent
        SG = _dbox(p, -gd, gd)                                  # guard Doppler extent
        HL = _dbox(p, -wd, -gd - 1)                             # dr = 0, dd < −gd
        A = np.concatenate([np.zeros((M, 1)), np.cumsum(SW, axis=1)], axis=1)
        B = np.concatenate([np.zeros((M, 1)), np.cumsum(SG, axis=1)], axis=1)
        total = (A[:, r + wr + 1] - A[:, r - wr]) - (B[:, r + gr + 1] - B[:, r - gr])
        lower = (A[:, r] - A[:, r - wr]) - (B[:, r] - B[:, r - gr]) + HL[:, r]
        upper = total - lower
        if mode == CA:
            Z = total / N
        elif mode == GO:
            Z = np.maximum(lower, upper) / (N // 2)
        else:
            Z = np.minimum(lower, upper) / (N // 2)
    hit = p[:, r] > alpha * Z
    dd, ri = np.nonzero(hit)
    flat = dd * Nr + r[ri]
    n = flat.size
    m = min(n, out_idx.shape[0])
    out_idx[:m] = flat[:m]
    out_noise[:m] = Z[dd[:m], ri[:m]]
    return n

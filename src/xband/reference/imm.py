"""IMM mixing (interaction) and output combination over a batch of tracks (numpy twin of
ext/imm.pyx). The equations are those of xband.track.imm (Blom & Bar-Shalom 1988).

Layout: the r models' states live in one packed float64 buffer, model-major. With n tracks
and model dimensions d_j, model j's states are ``x[n·xo_j : n·(xo_j + d_j)]`` viewed
(n, d_j) and its covariances ``P[n·po_j : n·(po_j + d_j²)]`` viewed (n, d_j, d_j), where
xo_j = Σ_{i<j} d_i and po_j = Σ_{i<j} d_i².

Index maps:

* ``maps[i, j, a]`` (r, r, ≥ max d): the index in model i of model j's component a, or
  −1 when model i lacks it (unbiased mixing: that component, its variance and its
  covariances among such components come from model j itself, with no cross-covariance
  with the shared components);
* ``pos[j, a]`` (r, ≥ max d): the position of model j's component a in the union space
  of the output (a model lacking a component contributes 0 with zero variance).

imm_mix, per track, c̄_j = Σ_i Π_ij μ_i, μ_{i|j} = Π_ij μ_i / c̄_j,
    x0_j = Σ_i μ_{i|j} x̃_i,   P0_j = sym(Σ_i μ_{i|j} [P̃_i + (x̃_i − x0_j)(x̃_i − x0_j)ᵀ])
with x̃_i, P̃_i model i expressed in model j's space through ``maps``.
imm_mix_predict: imm_mix, then each model's prediction over dt (linear: x ← F x,
P ← sym(F P Fᵀ + Q); coordinated turn: the EKF prediction of xband.reference.kalman), in
place, with F, Q packed per model (model j's d_j × d_j at Σ_{i<j} d_i²) and kinds[j] 0
(linear) or 1 (coordinated turn, F unused).
imm_update_sel: every model's linear update (kalman.kf_update) with the measurement
z = x[sel] + noise, sel the same state indices in every model (position: 0, 1, 2);
nis, loglik, status (r, n).
imm_combine: x = Σ_j μ_j x̂_j,  P = sym(Σ_j μ_j [P̂_j + (x̂_j − x)(x̂_j − x)ᵀ]) in the union
space through ``pos``.
"""
import numpy as np

from . import kalman as _kalman


def _views(x, P, dims, n):
    xs, Ps, xo, po = [], [], 0, 0
    for d in (int(v) for v in dims):
        xs.append(x[n * xo:n * (xo + d)].reshape(n, d))
        Ps.append(P[n * po:n * (po + d * d)].reshape(n, d, d))
        xo, po = xo + d, po + d * d
    return xs, Ps


def imm_mix(x, P, dims, maps, Pi, mu, x_out, P_out, cbar):
    """Mixed model states of every track into x_out, P_out (packed like x, P); c̄ (n, r)."""
    n, r = mu.shape
    if n == 0 or x.shape[0] == 0:
        return
    xs, Ps = _views(x, P, dims, n)
    xos, Pos = _views(x_out, P_out, dims, n)
    cbar[:] = mu @ Pi
    for j in range(r):
        dj = int(dims[j])
        w = Pi[:, j][None, :] * mu / cbar[:, j, None]            # μ_{i|j} (n, r)
        conv = []
        for i in range(r):
            mp = np.asarray(maps[i, j, :dj])
            sh, own = mp >= 0, mp < 0
            xc = xs[j].copy()
            xc[:, sh] = xs[i][:, mp[sh]]
            Pc = np.zeros((n, dj, dj))
            a = np.flatnonzero(sh)
            Pc[:, a[:, None], a[None, :]] = Ps[i][:, mp[sh][:, None], mp[sh][None, :]]
            o = np.flatnonzero(own)
            if o.size:
                Pc[:, o[:, None], o[None, :]] = Ps[j][:, o[:, None], o[None, :]]
            conv.append((xc, Pc))
        x0 = np.zeros((n, dj))
        for i in range(r):
            x0 += w[:, i, None] * conv[i][0]
        P0 = np.zeros((n, dj, dj))
        for i in range(r):
            d = conv[i][0] - x0
            P0 += w[:, i, None, None] * (conv[i][1] + d[:, :, None] * d[:, None, :])
        xos[j][:] = x0
        Pos[j][:] = 0.5 * (P0 + np.swapaxes(P0, 1, 2))


def imm_mix_predict(x, P, dims, maps, Pi, mu, cbar, kinds, F, Q, dt):
    """imm_mix, then every model's prediction over dt, in place on x, P; c̄ (n, r)."""
    n = mu.shape[0]
    if n == 0 or x.shape[0] == 0:
        return
    xo, Po = np.empty_like(x), np.empty_like(P)
    imm_mix(x, P, dims, maps, Pi, mu, xo, Po, cbar)
    xs, Ps = _views(xo, Po, dims, n)
    fo = 0
    for j, d in enumerate(int(v) for v in dims):
        Fj = np.asarray(F[fo:fo + d * d]).reshape(d, d)
        Qj = np.asarray(Q[fo:fo + d * d]).reshape(d, d)
        if int(kinds[j]) == 1:
            _kalman.ct_predict(xs[j], Ps[j], float(dt), Qj)
        else:
            _kalman.kf_predict(xs[j], Ps[j], Fj, Qj)
        fo += d * d
    x[:] = xo
    P[:] = Po


def imm_combine(x, P, dims, pos, mu, x_out, P_out):
    """Combined estimate of every track in the union space: x_out (n, D), P_out (n, D, D)."""
    n, r = mu.shape
    if n == 0 or x.shape[0] == 0:
        return
    D = x_out.shape[1]
    xs, Ps = _views(x, P, dims, n)
    emb = []
    xc = np.zeros((n, D))
    for j in range(r):
        p = np.asarray(pos[j, :int(dims[j])])
        xe = np.zeros((n, D))
        Pe = np.zeros((n, D, D))
        xe[:, p] = xs[j]
        Pe[:, p[:, None], p[None, :]] = Ps[j]
        emb.append((xe, Pe))
        xc += mu[:, j, None] * xe
    Pc = np.zeros((n, D, D))
    for j, (xe, Pe) in enumerate(emb):
        d = xe - xc
        Pc += mu[:, j, None, None] * (Pe + d[:, :, None] * d[:, None, :])
    x_out[:] = xc
    P_out[:] = 0.5 * (Pc + np.swapaxes(Pc, 1, 2))


def imm_update_sel(x, P, dims, sel, z, R, nis, loglik, status):
    """Linear update of every model of every track, in place: z (n, m) = x[sel] + noise
    with the same state indices sel (m,) in every model, R (n, m, m) → nis, loglik,
    status (r, n) (kalman.kf_update per model, H the selection)."""
    n, m = z.shape
    if n == 0 or x.shape[0] == 0:
        return
    xs, Ps = _views(x, P, dims, n)
    for j, (xj, Pj) in enumerate(zip(xs, Ps)):
        H = np.zeros((m, xj.shape[1]))
        H[np.arange(m), np.asarray(sel)] = 1.0
        _kalman.kf_update(xj, Pj, z, H, R, nis[j], loglik[j], status[j])

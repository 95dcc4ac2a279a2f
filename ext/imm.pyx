# cython: language_level=3
"""IMM mixing (interaction) and output combination over a batch of tracks.
Twin: xband/reference/imm.py (equations, layout and index maps are documented there).

The r models' states live in one packed buffer, model-major: model j's block is
x[n·xo_j : n·(xo_j + d_j)] viewed (n, d_j), its covariances P[n·po_j : …] viewed
(n, d_j, d_j), with xo_j = Σ_{i<j} d_i and po_j = Σ_{i<j} d_i². One call mixes (or
combines) every track; per-track work uses stack buffers.
"""
include "_imm.pxi"


def imm_mix(const double[::1] x, const double[::1] P, const long long[::1] dims,
            const long long[:, :, ::1] maps, const double[:, ::1] Pi,
            const double[:, ::1] mu, double[::1] x_out, double[::1] P_out,
            double[:, ::1] cbar):
    """IMM interaction of every track: packed model states x, P (see the module doc),
    dims (r,), maps (r, r, MAXD), Π (r, r), μ (n, r) → mixed x_out, P_out (packed alike)
    and c̄ (n, r)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_mix(&x[0], &P[0], dims, maps, Pi, mu, &x_out[0], &P_out[0], cbar)


def imm_combine(const double[::1] x, const double[::1] P, const long long[::1] dims,
                const long long[:, ::1] pos, const double[:, ::1] mu, double[:, ::1] x_out,
                double[:, :, ::1] P_out):
    """IMM output of every track: packed model states x, P, dims (r,), pos (r, MAXD)
    (model j's components in the union space), μ (n, r) → x_out (n, D), P_out (n, D, D)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_combine(&x[0], &P[0], dims, pos, mu, x_out, P_out)


def imm_mix_predict(double[::1] x, double[::1] P, const long long[::1] dims,
                    const long long[:, :, ::1] maps, const double[:, ::1] Pi,
                    const double[:, ::1] mu, double[:, ::1] cbar,
                    const long long[::1] kinds, const double[::1] F,
                    const double[::1] Q, double dt):
    """IMM interaction and model-matched prediction of every track, in place: packed model
    states x, P (see the module doc), dims (r,), maps (r, r, MAXD), Π (r, r), μ (n, r);
    kinds (r,): 0 linear (F, Q), 1 coordinated turn (EKF over dt with Q); F, Q packed per
    model (model j's d_j × d_j at Σ_{i<j} d_i²; F unused for CT) → c̄ (n, r)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_mix_predict(&x[0], &P[0], dims, maps, Pi, mu, cbar, kinds, &F[0], &Q[0], dt)

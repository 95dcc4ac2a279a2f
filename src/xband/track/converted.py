"""Converted-measurement Kalman filter (CMKF) for spherical position measurements.

The spherical measurement (range r, azimuth θ, elevation φ) is converted to an ENU
position and the track is updated by the *linear* Kalman update with H = [I₃ 0] and the
converted covariance — no linearisation of h(x) around the prediction, which is what makes
the EKF inconsistent at long range with large cross-range errors (r σ_θ ≫ σ_r).

Conversion (azimuth from north (+y) clockwise toward east (+x), elevation up, as
../shared/DESIGN.md): x = r cos φ sin θ, y = r cos φ cos θ, z = r sin φ.

With Gaussian angle errors, E[cos w] = λ = e^{−σ²/2}: the *naive* conversion of the
measured values is biased, E[y_naive] = λ_θ λ_φ y (at θ = 0, φ = 0 the range-direction
bias is r (1 − λ_θ λ_φ), ≈ 137 m at r = 100 km, σ_θ = 3°). The **unbiased** conversion
(Mo, Song, Zhou, Sun & Bar-Shalom, "Unbiased converted measurements for tracking", IEEE
TAES 34(3), 1998; 3-D form as in Duan, Han & Li, IEEE TAES 40(4), 2004) divides the
multiplicative bias out:

    x_u = r_m cos φ_m sin θ_m / (λ_θ λ_φ),  y_u = r_m cos φ_m cos θ_m / (λ_θ λ_φ),
    z_u = r_m sin φ_m / λ_φ.

Its covariance is the measurement-conditioned mean-square error of Mo et al.:
R_u = E[p pᵀ | z_m] − m x_uᵀ − x_u mᵀ + x_u x_uᵀ with p the true position, r = r_m − w_r,
θ = θ_m − w_θ, φ = φ_m − w_φ and m = E[p | z_m], from E[r²] = r_m² + σ_r²,
E[sin θ] = λ_θ sin θ_m, E[cos θ] = λ_θ cos θ_m, E[sin² θ] = ½(1 − λ_θ⁴ cos 2θ_m),
E[cos² θ] = ½(1 + λ_θ⁴ cos 2θ_m), E[sin θ cos θ] = ½ λ_θ⁴ sin 2θ_m (the same for φ), the
errors independent. In 2-D this is exactly Mo et al.'s R^mu; R_u = Cov(p | z_m) +
(x_u − m)(x_u − m)ᵀ is positive semi-definite by construction.

The **filter** (``update_spherical``) uses the unbiased x_u with the covariance
evaluated at the track's *predicted* position (``covariance_at``: the decorrelated
unbiased CMKF of Bordonaro, Willett & Bar-Shalom, IEEE TAES 50(2), 2014). R_u computed
from the measured values (Mo et al.) is correlated with the measurement error — a long
measured range inflates R exactly when the error is large — and the filter turns
overconfident at large cross-range errors: on a CV target at 100 km with σ_θ = σ_φ =
1.5° the 200-run NEES (6 states) grows to ≈ 18 with R_u and stays at ≈ 6.2–6.6 with the
decorrelated covariance (tests/track/test_converted.py).

Scope (documented limits):

* only the diagonal of R's range/azimuth/elevation block is used (independent errors, as
  the radar reports them); off-diagonal terms are ignored;
* the **range rate is not used** by the CMKF update (it is nonlinear in position and
  velocity jointly; a pseudo-measurement would correlate with the converted position):
  the tracker still gates and associates on it;
* rows whose range or angles are not usable (NaN, e.g. a sum-only receiver reporting
  range only) fall back to the EKF update of ``filters.update_spherical`` on their usable
  components, so no measurement is lost;
* NIS and log-likelihoods are those of the 3-D converted update (for the mode
  probabilities of an IMM whose models all use the CMKF, and for JPDA weights).

``update_spherical`` has the signature of ``xband.track.filters.update_spherical``;
``method="cmkf"`` selects it in the filter banks (``[tracker] update = "cmkf"``).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import filters

H_POS = np.hstack([np.eye(3), np.zeros((3, 3))])


def _angle_moments(a, s2):
    """E[sin], E[cos], E[sin²], E[cos²], E[sin·cos] of a − w, w ~ N(0, s2), given a."""
    lam = np.exp(-0.5 * s2)
    lam4 = lam ** 4
    s, c = np.sin(a), np.cos(a)
    c2, s2a = np.cos(2 * a), np.sin(2 * a)
    return lam * s, lam * c, 0.5 * (1 - lam4 * c2), 0.5 * (1 + lam4 * c2), 0.5 * lam4 * s2a


def convert(z, R, unbiased: bool = True):
    """Converted positions (k, 3) and covariances (k, 3, 3) of spherical z (k, ≥3) =
    (range, az, el, …) with covariances R (k, ≥3, ≥3) (diagonal of the first 3 used).

    ``unbiased=False`` gives the naive conversion of the measured values (for comparison;
    its covariance is the same measurement-conditioned MSE about the naive point)."""
    z = np.asarray(z, np.float64)
    R = np.asarray(R, np.float64)
    if z.ndim != 2 or z.shape[1] < 3:
        raise InputError(f"z: expected shape (k, 3 or 4) of (range, az, el[, range_rate]), "
                         f"got {z.shape}")
    k = z.shape[0]
    if R.shape[:1] != (k,) or R.ndim != 3 or R.shape[1] < 3 or R.shape[2] < 3:
        raise InputError(f"R: expected shape ({k}, 3 or 4, 3 or 4), got {R.shape}")
    r, th, ph = z[:, 0], z[:, 1], z[:, 2]
    vr, vt, vp = R[:, 0, 0], R[:, 1, 1], R[:, 2, 2]
    if np.any(vr < 0) or np.any(vt < 0) or np.any(vp < 0):
        raise InputError("R: negative variance of range, azimuth or elevation")
    lt, lp = np.exp(-0.5 * vt), np.exp(-0.5 * vp)
    cp, sp, ct, st = np.cos(ph), np.sin(ph), np.cos(th), np.sin(th)
    xn = np.column_stack([r * cp * st, r * cp * ct, r * sp])
    if unbiased:
        xu = xn / np.column_stack([lt * lp, lt * lp, lp])
    else:
        xu = xn
    # moments of the true position given the measurement
    Es_t, Ec_t, Ess_t, Ecc_t, Esc_t = _angle_moments(th, vt)
    Es_p, Ec_p, Ess_p, Ecc_p, Esc_p = _angle_moments(ph, vp)
    Er2 = r * r + vr
    m = np.column_stack([r * Ec_p * Es_t, r * Ec_p * Ec_t, r * Es_p])
    E2 = np.empty((k, 3, 3))
    E2[:, 0, 0] = Er2 * Ecc_p * Ess_t
    E2[:, 1, 1] = Er2 * Ecc_p * Ecc_t
    E2[:, 2, 2] = Er2 * Ess_p
    E2[:, 0, 1] = E2[:, 1, 0] = Er2 * Ecc_p * Esc_t
    E2[:, 0, 2] = E2[:, 2, 0] = Er2 * Esc_p * Es_t
    E2[:, 1, 2] = E2[:, 2, 1] = Er2 * Esc_p * Ec_t
    Ru = (E2 - m[:, :, None] * xu[:, None, :] - xu[:, :, None] * m[:, None, :]
          + xu[:, :, None] * xu[:, None, :])
    Ru = 0.5 * (Ru + np.swapaxes(Ru, 1, 2))
    return xu, Ru


def covariance_at(pos, R):
    """Covariance (k, 3, 3) of the unbiased converted measurement about a true position
    ``pos`` (k, 3), errors with the range/azimuth/elevation variances of R (k, ≥3, ≥3):
    E[x_u x_uᵀ | p] − p pᵀ, from E[r_m²] = r² + σ_r², E[cos² θ_m] = ½(1 + λ_θ⁴ cos 2θ),
    E[sin θ_m cos θ_m] = ½ λ_θ⁴ sin 2θ, … (the truth-conditioned form of Mo et al. 1998).
    Evaluated at the *predicted* position this is the decorrelated covariance of
    Bordonaro, Willett & Bar-Shalom (IEEE TAES 50(2), 2014): independent of the
    measurement error, unlike R_u of ``convert``."""
    pos = np.asarray(pos, np.float64)
    R = np.asarray(R, np.float64)
    k = pos.shape[0]
    r = np.sqrt(np.einsum("ij,ij->i", pos, pos))
    th = np.arctan2(pos[:, 0], pos[:, 1])
    ph = np.arctan2(pos[:, 2], np.hypot(pos[:, 0], pos[:, 1]))
    vr, vt, vp = R[:, 0, 0], R[:, 1, 1], R[:, 2, 2]
    lt, lp = np.exp(-0.5 * vt), np.exp(-0.5 * vp)
    _, _, Ess_t, Ecc_t, Esc_t = _angle_moments(th, vt)
    _, _, Ess_p, Ecc_p, Esc_p = _angle_moments(ph, vp)
    Er2 = r * r + vr
    g2 = (lt * lp) ** 2
    E2 = np.empty((k, 3, 3))
    E2[:, 0, 0] = Er2 * Ecc_p * Ess_t / g2
    E2[:, 1, 1] = Er2 * Ecc_p * Ecc_t / g2
    E2[:, 2, 2] = Er2 * Ess_p / (lp * lp)
    E2[:, 0, 1] = E2[:, 1, 0] = Er2 * Ecc_p * Esc_t / g2
    E2[:, 0, 2] = E2[:, 2, 0] = Er2 * Esc_p * lt * np.sin(th) / (lt * lp * lp)
    E2[:, 1, 2] = E2[:, 2, 1] = Er2 * Esc_p * lt * np.cos(th) / (lt * lp * lp)
    C = E2 - pos[:, :, None] * pos[:, None, :]
    return 0.5 * (C + np.swapaxes(C, 1, 2))


def update_spherical(x, P, idx, z, R, method: str = "cmkf", ukf_params=filters.UKF_PARAMS):
    """CMKF update of rows ``x[idx[k]]`` with spherical z[k] = (range, az, el, ṙ) and R[k]
    (the signature of ``filters.update_spherical``; ``method`` must be "cmkf",
    ``ukf_params`` is unused). Rows without a usable range, azimuth and elevation take the
    EKF update of ``filters.update_spherical`` instead. Returns (nis, loglik, status),
    each (k,)."""
    if method != "cmkf":
        raise InputError(f"method: expected 'cmkf', got {method!r}")
    n, d = filters._state(x, P)
    if d < 6:
        raise InputError(f"x: the spherical measurement needs position and velocity (d >= 6), "
                         f"got d = {d}")
    idx = np.ascontiguousarray(idx, np.int64)
    k = idx.shape[0]
    if idx.ndim != 1 or (k and (idx.min() < 0 or idx.max() >= n)):
        raise InputError(f"idx: expected 1-D indices into {n} tracks")
    if k and np.unique(idx).size != k:
        raise InputError("idx: a track may be updated only once per call")
    z = filters._mat("z", z, (k, 4))
    R = filters._mat("R", R, (k, 4, 4))
    nis, loglik, status = np.empty(k), np.empty(k), np.empty(k, np.int8)
    if not k:
        return nis, loglik, status
    dg = np.diagonal(R[:, :3, :3], axis1=1, axis2=2)
    ok = np.all(np.isfinite(z[:, :3]), axis=1) & np.all(np.isfinite(dg) & (dg >= 0), axis=1)
    ok &= z[:, 0] > 0
    if (~ok).any():
        b = np.flatnonzero(~ok)
        nis[b], loglik[b], status[b] = filters.update_spherical(x, P, idx[b], z[b], R[b],
                                                                method="ekf")
    g = np.flatnonzero(ok)
    if g.size:
        zc, _ = convert(z[g], R[g])
        rows = idx[g]
        xs = np.ascontiguousarray(x[rows])
        Ps = np.ascontiguousarray(P[rows])
        Rc = covariance_at(xs[:, :3], R[g])
        H = np.zeros((3, d))
        H[:, :3] = np.eye(3)
        nis[g], loglik[g], status[g] = filters.update(xs, Ps, zc, H, Rc)
        x[rows] = xs
        P[rows] = Ps
    return nis, loglik, status

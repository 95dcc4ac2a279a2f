"""Batched Kalman / extended Kalman filter kernels (numpy twin of ext/kalman.pyx).

Shapes: n tracks, state dimension d (≤ 12), measurement dimension m (≤ 4).
Everything is float64 and updated **in place**, so a tracker owns its buffers.

Equations (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation*, 2001, §5.2; FilterPy's ``kalman_filter.py`` uses the same):

    predict:  x ← F x                      P ← F P Fᵀ + Q
    update:   y = z − h(x)                 S = H P Hᵀ + R
              K = P Hᵀ S⁻¹                 x ← x + K y
              P ← (I − K H) P (I − K H)ᵀ + K R Kᵀ      (Joseph form)
              NIS = yᵀ S⁻¹ y
              log-likelihood = −½ (NIS + log det S + m log 2π)   (the IMM's mode likelihood)

The Joseph form is used because it keeps P symmetric positive semidefinite for *any* gain
K, so round-off in K cannot make P indefinite (Bucy & Joseph 1968; Bar-Shalom §5.2.3);
the short form (I − KH)P loses symmetry and definiteness over long runs. P is
symmetrised after every step.

Status codes written per row: 0 updated, 1 skipped (non-finite z or R), 2 skipped
(innovation covariance S not positive definite). A skipped row is left untouched, so a bad
measurement never poisons a track.
"""
import numpy as np

UPDATED, SKIP_NONFINITE, SKIP_SINGULAR = 0, 1, 2
TWO_PI = 2.0 * np.pi
LOG_2PI = np.log(2.0 * np.pi)


def wrap_angle(a):
    """Wrap angles to [−π, π] (a − 2π·round(a/2π); round half to even, as C's nearbyint)."""
    return a - TWO_PI * np.round(a / TWO_PI)


def _sym(P):
    return 0.5 * (P + np.swapaxes(P, -1, -2))


def kf_predict(x, P, F, Q):
    """x (n, d), P (n, d, d) ← prediction through F (d, d) with process noise Q (d, d)."""
    x[:] = x @ F.T                                    # x ← F x   (row-vector form)
    P[:] = _sym(F @ P @ F.T + Q)                      # P ← F P Fᵀ + Q


def ct_transition(xi, T):
    """Coordinated turn over T: f(x) and its Jacobian F (7, 7) for x = (x y z vx vy vz ω).

    With s = sin ωT, c = cos ωT, a = s/ω, b = (1 − c)/ω (series in ωT below 1e-4):
      x' = x + a vx − b vy,  y' = y + b vx + a vy,  z' = z + T vz,
      vx' = c vx − s vy,     vy' = s vx + c vy,     vz' = vz,  ω' = ω
    (Bar-Shalom, Li & Kirubarajan 2001, §11.7.2; ω > 0 turns counter-clockwise).
    """
    vx, vy, w = xi[3], xi[4], xi[6]
    wt = w * T
    s, c = np.sin(wt), np.cos(wt)
    if abs(wt) < 1e-4:
        a = T - w * w * T ** 3 / 6.0
        b = w * T * T / 2.0 - w ** 3 * T ** 4 / 24.0
        da = -w * T ** 3 / 3.0 + w ** 3 * T ** 5 / 30.0
        db = T * T / 2.0 - w * w * T ** 4 / 8.0
    else:
        a, b = s / w, (1.0 - c) / w
        da = (T * c * w - s) / (w * w)
        db = (T * s * w - (1.0 - c)) / (w * w)
    xo = np.array([xi[0] + a * vx - b * vy, xi[1] + b * vx + a * vy, xi[2] + T * xi[5],
                   c * vx - s * vy, s * vx + c * vy, xi[5], w])
    F = np.eye(7)
    F[0, 3], F[0, 4], F[0, 6] = a, -b, da * vx - db * vy
    F[1, 3], F[1, 4], F[1, 6] = b, a, db * vx + da * vy
    F[2, 5] = T
    F[3, 3], F[3, 4], F[3, 6] = c, -s, -T * s * vx - T * c * vy
    F[4, 3], F[4, 4], F[4, 6] = s, c, T * c * vx - T * s * vy
    return xo, F


def ct_predict(x, P, dt, Q):
    """Coordinated-turn EKF prediction of x (n, 7), P (n, 7, 7) over dt, in place:
    x ← f(x), P ← F P Fᵀ + Q with F the Jacobian at the prior x."""
    for i in range(x.shape[0]):
        xo, F = ct_transition(x[i], dt)
        x[i] = xo
        P[i] = _sym(F @ P[i] @ F.T + Q)


def _joseph_update(x, P, y, H, R):
    """One row: the Kalman update with innovation y (m,), H (m, d), R (m, m).

    Returns (x, P, nis, loglik) or None when S is not positive definite."""
    PHt = P @ H.T
    S = _sym(H @ PHt + R)                             # S = H P Hᵀ + R
    try:
        L = np.linalg.cholesky(S)                     # S must be positive definite
    except np.linalg.LinAlgError:
        return None
    K = np.linalg.solve(S, PHt.T).T                   # K = P Hᵀ S⁻¹  (S symmetric)
    nis = float(y @ np.linalg.solve(S, y))            # NIS = yᵀ S⁻¹ y
    x_new = x + K @ y
    IKH = np.eye(P.shape[0]) - K @ H
    P_new = IKH @ P @ IKH.T + K @ R @ K.T             # Joseph form
    logdet = 2.0 * np.sum(np.log(np.diag(L)))
    loglik = -0.5 * (nis + logdet + y.shape[0] * LOG_2PI)
    return x_new, _sym(P_new), nis, loglik


def kf_update(x, P, z, H, R, nis, loglik, status):
    """Linear update of every row: z (n, m), H (m, d), R (n, m, m) → x, P in place;
    nis (n,), loglik (n,) and status (n,) int8 written."""
    for i in range(x.shape[0]):
        if not (np.all(np.isfinite(z[i])) and np.all(np.isfinite(R[i]))):
            nis[i] = loglik[i] = np.nan
            status[i] = SKIP_NONFINITE
            continue
        res = _joseph_update(x[i], P[i], z[i] - H @ x[i], H, R[i])
        if res is None:
            nis[i] = loglik[i] = np.nan
            status[i] = SKIP_SINGULAR
            continue
        x[i], P[i], nis[i], loglik[i] = res
        status[i] = UPDATED


def kf_step(x, P, F, Q, z, H, R, nis, loglik, status):
    """kf_predict(x, P, F, Q) then kf_update(x, P, z, H, R, nis, loglik, status), in one
    call; nis, loglik, status given as None are allocated (n,). Returns (nis, loglik,
    status). (The compiled twin fuses the two and checks its arguments; see
    track.filters.step.)"""
    n = x.shape[0]
    nis = np.empty(n) if nis is None else nis
    loglik = np.empty(n) if loglik is None else loglik
    status = np.empty(n, np.int8) if status is None else status
    kf_predict(x, P, F, Q)
    kf_update(x, P, z, H, R, nis, loglik, status)
    return nis, loglik, status


def sph_measure(xi):
    """h(x) and its Jacobian H (4, d) for the spherical measurement of state row xi.

    h = (r, az, el, ṙ) with r = |p|, az = atan2(px, py), el = atan2(pz, ρ), ρ = √(px²+py²),
    ṙ = p·v/r. Partial derivatives (ρ or r = 0 → that row's derivatives are 0):
      ∂r/∂p = p/r;  ∂az/∂px = py/ρ², ∂az/∂py = −px/ρ²;
      ∂el/∂px = −pz·px/(ρ r²), ∂el/∂py = −pz·py/(ρ r²), ∂el/∂pz = ρ/r²;
      ∂ṙ/∂p = v/r − (p·v) p/r³,  ∂ṙ/∂v = p/r.
    """
    d = xi.shape[0]
    p, v = xi[0:3], xi[3:6]
    rho2 = p[0] ** 2 + p[1] ** 2
    rho = np.sqrt(rho2)
    r2 = rho2 + p[2] ** 2
    r = np.sqrt(r2)
    pv = float(p @ v)
    h = np.array([r, np.arctan2(p[0], p[1]), np.arctan2(p[2], rho), pv / r if r > 0 else 0.0])
    H = np.zeros((4, d))
    if r > 0:
        H[0, 0:3] = p / r
        H[3, 0:3] = v / r - pv * p / (r2 * r)
        H[3, 3:6] = p / r
        if rho > 0:
            H[1, 0] = p[1] / rho2
            H[1, 1] = -p[0] / rho2
            H[2, 0] = -p[2] * p[0] / (rho * r2)
            H[2, 1] = -p[2] * p[1] / (rho * r2)
            H[2, 2] = rho / r2
    return h, H


def _select(z, R):
    """Indices of the usable components of one spherical measurement: finite z and finite
    R on those rows/columns (a sum-only receiver reports NaN angles)."""
    sel = np.flatnonzero(np.isfinite(z) & np.isfinite(np.diagonal(R)))
    if sel.size and not np.all(np.isfinite(R[np.ix_(sel, sel)])):
        return sel[:0]
    return sel


def ekf_update_sph(x, P, idx, z, R, nis, loglik, status):
    """EKF update of rows x[idx[k]] with spherical measurements z[k] (range, az, el, ṙ),
    covariance R[k] (4, 4). Non-finite components are left out (a reduced measurement);
    the azimuth innovation is wrapped to [−π, π]. nis (k,), loglik (k,), status (k,) int8
    written."""
    for k in range(idx.shape[0]):
        i = idx[k]
        sel = _select(z[k], R[k])
        if sel.size == 0:
            nis[k] = loglik[k] = np.nan
            status[k] = SKIP_NONFINITE
            continue
        h, H = sph_measure(x[i])
        y = z[k] - h
        y[1] = wrap_angle(y[1])
        res = _joseph_update(x[i], P[i], y[sel], H[sel], R[k][np.ix_(sel, sel)])
        if res is None:
            nis[k] = loglik[k] = np.nan
            status[k] = SKIP_SINGULAR
            continue
        x[i], P[i], nis[k], loglik[k] = res
        status[k] = UPDATED


def merwe_weights(d, alpha, beta, kappa):
    """Scaled sigma-point weights (van der Merwe 2004): λ = α²(d + κ) − d,
    Wm₀ = λ/(d + λ), Wc₀ = Wm₀ + 1 − α² + β, Wᵢ = 1/(2(d + λ)) for i = 1…2d."""
    lam = alpha * alpha * (d + kappa) - d
    wm = np.full(2 * d + 1, 0.5 / (d + lam))
    wc = wm.copy()
    wm[0] = lam / (d + lam)
    wc[0] = wm[0] + 1.0 - alpha * alpha + beta
    return lam, wm, wc


def ukf_update_sph(x, P, idx, z, R, alpha, beta, kappa, nis, loglik, status):
    """Unscented update of rows x[idx[k]] with spherical z[k], R[k] (Julier & Uhlmann 2004;
    scaled sigma points of van der Merwe): χ₀ = x, χ_{i}, χ_{d+i} = x ± (√((d+λ)P))_{:,i}
    (lower Cholesky columns), ζᵢ = h(χᵢ),
        ẑ = Σ Wmᵢ ζᵢ (azimuth averaged as wrapped differences from ζ₀),
        S = Σ Wcᵢ (ζᵢ − ẑ)(ζᵢ − ẑ)ᵀ + R,   P_xz = Σ Wcᵢ (χᵢ − x)(ζᵢ − ẑ)ᵀ,
        K = P_xz S⁻¹,  x ← x + K (z − ẑ),  P ← P − K S Kᵀ (FilterPy's form), symmetrised.
    Non-finite components are left out as in the EKF; status 2 also when P is not positive
    definite (no sigma points)."""
    for k in range(idx.shape[0]):
        i = idx[k]
        sel = _select(z[k], R[k])
        if sel.size == 0:
            nis[k] = loglik[k] = np.nan
            status[k] = SKIP_NONFINITE
            continue
        d = x.shape[1]
        lam, wm, wc = merwe_weights(d, alpha, beta, kappa)
        try:
            L = np.linalg.cholesky((d + lam) * P[i])
            S_ok = True
        except np.linalg.LinAlgError:
            S_ok = False
        if S_ok:
            chi = np.vstack([x[i], x[i] + L.T, x[i] - L.T])           # (2d+1, d)
            zeta = np.array([sph_measure(c)[0] for c in chi])[:, sel]
            ref = zeta[0].copy()
            dz = zeta - ref
            if 1 in sel:                                              # azimuth column
                a = int(np.flatnonzero(sel == 1)[0])
                dz[:, a] = wrap_angle(dz[:, a])
            zhat_rel = wm @ dz
            dz = dz - zhat_rel
            S = (wc[:, None] * dz).T @ dz + R[k][np.ix_(sel, sel)]
            S = _sym(S)
            try:
                Ls = np.linalg.cholesky(S)
            except np.linalg.LinAlgError:
                S_ok = False
        if not S_ok:
            nis[k] = loglik[k] = np.nan
            status[k] = SKIP_SINGULAR
            continue
        Pxz = (wc[:, None] * (chi - x[i])).T @ dz
        y = (z[k][sel] - ref) - zhat_rel
        if 1 in sel:
            y[a] = wrap_angle(y[a])
        K = np.linalg.solve(S, Pxz.T).T
        nis[k] = float(y @ np.linalg.solve(S, y))
        loglik[k] = -0.5 * (nis[k] + 2.0 * np.sum(np.log(np.diag(Ls))) + sel.size * LOG_2PI)
        x[i] = x[i] + K @ y
        P[i] = _sym(P[i] - K @ S @ K.T)
        status[k] = UPDATED


def sph_gate(x, P, z, R, gate, out, loglik):
    """out (n_tracks, n_dets) ← NIS of every track/detection pair (the squared Mahalanobis
    distance used for χ² gating) over each detection's usable components, where it is
    within detection k's ``gate[k]``; +inf beyond the gate, where S is not positive
    definite or the detection has no usable component. loglik ← the gated pair's
    log N(y; 0, S) (JPDA's ℓ), −inf elsewhere."""
    for k in range(z.shape[0]):
        sel = _select(z[k], R[k])
        for i in range(x.shape[0]):
            out[i, k], loglik[i, k] = np.inf, -np.inf
            if sel.size == 0:
                continue
            h, H = sph_measure(x[i])
            y = z[k] - h
            y[1] = wrap_angle(y[1])
            Hs, ys = H[sel], y[sel]
            S = _sym(Hs @ P[i] @ Hs.T + R[k][np.ix_(sel, sel)])
            try:
                L = np.linalg.cholesky(S)
            except np.linalg.LinAlgError:
                continue
            nis = ys @ np.linalg.solve(S, ys)
            if nis > gate[k]:
                continue
            out[i, k] = nis
            loglik[i, k] = -0.5 * (nis + 2.0 * np.sum(np.log(np.diag(L))) + sel.size * LOG_2PI)


def sph_gate_pairs(x, P, z, R, gate, order, nr, order_az, na, ti, dj, nis, loglik):
    """The pairs of ``sph_gate`` inside the gate, without keeping the dense matrices:
    track ti[p], detection dj[p], NIS nis[p] and log-likelihood loglik[p] for p < the
    returned count, written while they fit in the buffers (the order of the pairs is
    unspecified; the compiled kernel emits them by track, candidates by range).

    ``order`` lists the detections with a finite range and range variance by increasing
    range (its first ``nr`` entries), then the others; ``order_az`` those with a finite
    azimuth in [−π, π] and finite azimuth variance by increasing azimuth (its first
    ``na``), then the others. The compiled kernel only tries, for each track, the
    detections whose range is within √(max γ · (H P Hᵀ_rr + max R_rr)) of the predicted
    one, or those within the like azimuth window on the circle, whichever list is
    shorter (no pair outside either can pass the gate's bound on that component); here
    every pair is evaluated, as in ``sph_gate``."""
    n, k = x.shape[0], z.shape[0]
    out, ll = np.empty((n, k)), np.empty((n, k))
    sph_gate(x, P, z, R, gate, out, ll)
    a, b = np.nonzero(np.isfinite(out))
    cnt = a.size
    c = min(cnt, ti.shape[0])
    ti[:c], dj[:c], nis[:c], loglik[:c] = a[:c], b[:c], out[a[:c], b[:c]], ll[a[:c], b[:c]]
    return cnt

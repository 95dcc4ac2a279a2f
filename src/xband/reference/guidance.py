"""Guidance commands over a batch (numpy twin of ext/guidance.pyx and ext/_guidelaw.pxd).

Inputs per engagement i: relative position r = p_T − p_M, relative velocity v = v_T − v_M
(ENU, m and m/s), interceptor velocity v_M, its achieved acceleration a_M and the target's
acceleration (estimate) a_T. With the line-of-sight (LOS) unit vector u = r/|r|, the LOS
rate vector ω = (r × v)/|r|² (rad/s) and the closing velocity V_c = −(r·v)/|r| (Zarchan,
*Tactical and Strategic Missile Guidance*, 6th ed., ch. 2, 8):

* law 1, pure PN (``pn``):     a = N′ |v_M| (ω × v̂_M)                ⟂ interceptor velocity
* law 2, true PN (``tpn``):    a = N′ V_c (ω × u)                     ⟂ LOS
* law 3, pure pursuit (``pp``): a = N′ |v_M| (|v|/R) (u − (u·v̂_M) v̂_M) — turns the velocity
  onto the LOS, the look angle nulled on the time scale (R/|v|)/N′
* law 4, augmented PN (``apn``): true PN + (N′/2) a_T⊥, a_T⊥ = a_T − (a_T·u) u  (ch. 8)
* law 5, optimal (``ogl``): the zero-effort-miss law that compensates a first-order lag τ
  (Zarchan ch. 8, "Optimal guidance"): with x = t_go/τ,

      ZEM = r + v t_go + ½ a_T t_go² − a_M τ² (e^{−x} + x − 1),   a = N′(x)/t_go² · ZEM⊥
      N′(x) = 6x² (e^{−x} + x − 1) / (2x³ + 3 + 6x − 6x² − 12x e^{−x} − 3e^{−2x})

  where ZEM⊥ is the component across the LOS. N′ → 3 as x → ∞ (τ = 0: APN with N′ = 3)
  and N′ ≈ 10/x as x → 0, where the denominator is O(x⁵) made of O(1) terms: below x = 1
  it is evaluated by its series N′ = P(x)/(x Q(x)), P = 6 Σ_j (−1)^j x^j/(j+2)!,
  Q = Σ_j c_{j+5} x^j with c_k = 12(−1)^k/(k−1)! − 3(−2)^k/k! (21 terms each). t_go is
  floored at 1 µs; not closing (t_go = ∞) commands 0.

Time to go, reported for every law and used by ``ogl``: better than R/V_c at large heading
errors (Zarchan ch. 2, the PN trajectory is longer than the straight line):
t_go = R/|v| · (1 + θ²/(2(2N′−1))), θ = angle between −v and the LOS (N′ = 3 for ogl,
N′ < 1 taken as 1); +∞ when V_c ≤ 0. At θ = 0 it is R/V_c.

Commands longer than ``a_max`` (m/s², > 0) are scaled back to it and flagged saturated.
At r = 0 the command is 0 and t_go = 0.
"""
import math

import numpy as np

LAW_PURE_PN, LAW_TRUE_PN, LAW_PURSUIT, LAW_AUG_PN, LAW_OGL = 1, 2, 3, 4, 5
_F = math.factorial
OGL_P = np.array([6.0 * (-1) ** j / _F(j + 2) for j in range(21)])
OGL_Q = np.array([12.0 * (-1) ** k / _F(k - 1) - 3.0 * (-2.0) ** k / _F(k)
                  for k in range(5, 26)])


def ogl_nav_ratio(x, out):
    """N′(x) of the optimal law for x = t_go/τ > 0 (series below x = 1); into out."""
    x = np.asarray(x, float)
    small = x < 1.0
    xs = np.where(small, x, 0.5)
    p = np.full_like(x, OGL_P[-1])
    q = np.full_like(x, OGL_Q[-1])
    for j in range(19, -1, -1):
        p = p * xs + OGL_P[j]
        q = q * xs + OGL_Q[j]
    xl = np.where(small, 1.0, x)
    e = np.exp(-xl)
    direct = (6.0 * xl * xl * (e + xl - 1.0)
              / (2.0 * xl * xl * xl + 3.0 + 6.0 * xl - 6.0 * xl * xl - 12.0 * xl * e - 3.0 * e * e))
    out[:] = np.where(small, p / (xs * q), direct)


def _dot(a, b):
    return np.einsum("ij,ij->i", a, b)


def _tgo_estimate(r, vrel, vc, N):
    """R/|v|·(1 + θ²/(2(2N′−1))), +inf where not closing."""
    ok = (vc > 0.0) & (vrel > 0.0)
    vs = np.where(ok, vrel, 1.0)
    th = np.arccos(np.minimum(np.where(ok, vc, 1.0) / vs, 1.0))
    k = 2.0 * (2.0 * max(N, 1.0) - 1.0)
    return np.where(ok, r / vs * (1.0 + th * th / k), np.inf)


def guidance_command(rel_pos, rel_vel, m_vel, m_acc, t_acc, law, nav_ratio, tau, a_max,
                     a_out, t_go, sat):
    """Write a_out (n, 3), t_go (n,), sat (n,) uint8 from the batch; see the module doc."""
    if law not in (1, 2, 3, 4, 5):
        raise ValueError(f"unknown guidance law code {law}")
    N = nav_ratio
    r2 = _dot(rel_pos, rel_pos)
    zero = r2 == 0.0
    safe_r2 = np.where(zero, 1.0, r2)
    r = np.sqrt(safe_r2)
    u = rel_pos / r[:, None]
    omega = np.cross(rel_pos, rel_vel) / safe_r2[:, None]           # LOS rate (rad/s)
    vc = -_dot(rel_pos, rel_vel) / r                                 # closing velocity
    vrel = np.sqrt(_dot(rel_vel, rel_vel))
    tg = _tgo_estimate(r, vrel, vc, N if law != LAW_OGL else 3.0)
    if law in (LAW_TRUE_PN, LAW_AUG_PN):
        a = (N * vc)[:, None] * np.cross(omega, u)                   # N′ Vc ω × u
        if law == LAW_AUG_PN:
            d = _dot(t_acc, u)
            a = a + 0.5 * N * (t_acc - d[:, None] * u)               # + N′/2 a_T⊥
    elif law in (LAW_PURE_PN, LAW_PURSUIT):
        vm = np.sqrt(_dot(m_vel, m_vel))
        ok = vm > 0.0
        vh = m_vel / np.where(ok, vm, 1.0)[:, None]
        if law == LAW_PURE_PN:
            a = (N * vm)[:, None] * np.cross(omega, vh)              # N′ |v_M| ω × v̂_M
        else:
            d = _dot(u, vh)                                          # cos(look angle)
            a = (N * vrel / r * vm)[:, None] * (u - d[:, None] * vh)
        a[~ok] = 0.0
    else:                                                            # optimal (ogl)
        fin = np.isfinite(tg)
        tgf = np.maximum(np.where(fin, tg, 1.0), 1e-6)
        if tau > 0.0:
            x = tgf / tau
            g = np.empty_like(x)
            ogl_nav_ratio(x, g)
            lagk = tau * tau * (np.exp(-x) + x - 1.0)
        else:
            g = np.full_like(tgf, 3.0)
            lagk = np.zeros_like(tgf)
        zem = (rel_pos + rel_vel * tgf[:, None] + 0.5 * t_acc * (tgf * tgf)[:, None]
               - lagk[:, None] * m_acc)                              # zero-effort miss
        d = _dot(zem, u)
        a = (g / (tgf * tgf))[:, None] * (zem - d[:, None] * u)
        a[~fin] = 0.0
    a[zero] = 0.0
    amag = np.sqrt(_dot(a, a))
    over = amag > a_max
    scale = np.where(over, a_max / np.where(over, amag, 1.0), 1.0)
    a_out[:] = a * scale[:, None]
    sat[:] = over
    t_go[:] = np.where(zero, 0.0, tg)

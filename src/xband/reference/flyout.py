"""Batched closed-loop engagement stepper (numpy twin of ext/flyout.pyx).

n engagements flown together, guidance on truth. Layout (structure of arrays, one column
per run, SI units, ENU):

* ``M`` (6 + 3·order, n): interceptor position (rows 0–2), velocity (3–5) and the states
  of its flight-control lag, row 6 + 3k + j = stage k (0…order−1) on axis j; the last
  stage is the achieved acceleration a_M.
* ``T`` (6, n): target position and velocity; ``AC`` (3, n): the command being held.
* ``MAN`` (6, n): target maneuver per run: amplitude vector A (rows 0–2, m/s²), start time
  t_s (s), ω (rad/s), phase φ (rad). a_T(t) = 0 before t_s; after it A (``man_kind`` 1,
  step) or A·sin(ω(t − t_s) + φ) (``man_kind`` 2, weave); ``man_kind`` 0: none. Within a
  step [t, t + h] the profile is taken as right-continuous at t and left-continuous at
  t + h (tolerance 1e-6·h), so a maneuver starting on the grid is integrated exactly.

Interceptor per axis, state s = (p, v, a_1, …, a_n), the binomial lag 1/(1 + sτ/n)^n:

    ṗ = v,  v̇ = a_n + g_z,  ȧ_1 = (a_c − a_1)/(τ/n),  ȧ_k = (a_{k−1} − a_k)/(τ/n)

a linear system ṡ = A s + B a_c + B_g g with the command held over the step, so one
classical RK4 step is exactly s⁺ = Φ s + Γ a_c + Γ_g g with Φ = Σ_{k≤4} (hA)^k/k!,
Γ = Σ_{k=1..4} h^k A^{k−1}/k! B (Euler: Φ = I + hA, Γ = hB); the caller precomputes
``phi``, ``gam``, ``gg`` (xband.guide.engagement.lag_matrices). τ = 0 (order 1): the lag
state is the command itself (Φ row a = 0, Γ = 1). Gravity g_z = −``grav`` on the z axis;
guidance compensates it (the command gets +grav on z after limiting).

Target: ṗ = v, v̇ = a_T(t); RK4 (``integrator`` 1): p⁺ = p + h v + h²/6 (a₀ + 2a_½),
v⁺ = v + h/6 (a₀ + 4a_½ + a₁) — exact for a step; Euler (0): p⁺ = p + h v, v⁺ = v + h a₀.

Guidance (xband.reference.guidance, law codes there) runs on truth every ``g_every`` plant
steps, on the step index k (t = k·dt), with the true a_T(t) for apn/ogl and the achieved
a_M; its command is held in between. The achieved acceleration it sees is the lag's output
less the gravity compensation (the kinematic a_M). ``hold`` is the plant alone: the
command ``AC`` (already including +g on z) is held for the whole call. Per run ``stats``
(3, n) accumulates the peak |a_c|, the number of saturated commands and the control effort
∫|a_c|² dt (guidance part).

Closest approach: during a step where r·v goes from < 0 to ≥ 0 (r = p_T − p_M) the cubic
Hermite interpolation of r in the step is bisected (60 times) for d|r|²/dt = 0, as in
xband.reference.engage; ``t_cpa``, ``miss`` are written, ``status`` set to 1 and the run
is frozen. Runs with status ≠ 0 on entry are not touched.
"""
import numpy as np

from .engage import BISECTIONS, _hermite
from .guidance import guidance_command

MAN_NONE, MAN_STEP, MAN_WEAVE = 0, 1, 2


def _man(kind, t, ts, w, ph, thr):
    """On when t − t_s ≥ thr (−tol: right limit at a step's start, +tol: left limit at
    its end, tol = 1e-6·h), so a maneuver starting on the grid integrates exactly."""
    if kind == MAN_NONE:
        return np.zeros_like(ts)
    on = t - ts >= thr
    if kind == MAN_STEP:
        return np.where(on, 1.0, 0.0)
    return np.where(on, np.sin(w * (t - ts) + ph), 0.0)


def fly(M, T, AC, MAN, phi, gam, gg, law, nav_ratio, tau, a_max, grav, man_kind, integrator,
        g_every, dt, k0, nsteps, status, t_cpa, miss, stats):
    """Advance every run with status 0 by up to nsteps plant steps from step k0; in place.
    See the module documentation for the layout and the equations."""
    _fly(M, T, AC, MAN, phi, gam, gg, law, nav_ratio, tau, a_max, grav, man_kind,
         integrator, g_every, dt, k0, nsteps, status, t_cpa, miss, stats, True)


def hold(M, T, AC, MAN, phi, gam, gg, grav, man_kind, integrator, dt, k0, nsteps, status,
         t_cpa, miss, stats):
    """The plant of ``fly`` without its guidance: advance every run with status 0 by up to
    nsteps plant steps from step k0 holding the command AC (gravity compensation included),
    in place (the pipeline's plant for n-th-order lags, gravity and weaving targets)."""
    d = phi.shape[0]
    if d < 3 or d > 10 or M.shape[0] != 6 + 3 * (d - 2):
        raise ValueError("hold: lag order must be 1..8 and M must have 6 + 3·order rows")
    _fly(M, T, AC, MAN, phi, gam, gg, 2, 1.0, 0.0, 1.0, grav, man_kind, integrator, 1, dt, k0,
         nsteps, status, t_cpa, miss, stats, False)


def _fly(M, T, AC, MAN, phi, gam, gg, law, nav_ratio, tau, a_max, grav, man_kind, integrator,
         g_every, dt, k0, nsteps, status, t_cpa, miss, stats, guide):
    d = phi.shape[0]
    order = d - 2
    if d < 3 or d > 10 or M.shape[0] != 6 + 3 * order:
        raise ValueError("fly: lag order must be 1..8 and M must have 6 + 3·order rows")
    if g_every < 1:
        raise ValueError("fly: g_every must be >= 1")
    h = dt
    tol = 1e-6 * dt
    ach = 6 + 3 * (order - 1)
    act = np.flatnonzero(status == 0)
    gvec = np.array([0.0, 0.0, grav])
    for s in range(nsteps):
        if act.size == 0:
            break
        t = (k0 + s) * h
        m, tg, ac, man = M[:, act], T[:, act], AC[:, act], MAN[:, act]
        if guide and (k0 + s) % g_every == 0:
            k = act.size
            q0 = _man(man_kind, t, man[3], man[4], man[5], -tol)
            a3, tgo, sat = np.empty((k, 3)), np.empty(k), np.empty(k, np.uint8)
            guidance_command(np.ascontiguousarray((tg[0:3] - m[0:3]).T),
                             np.ascontiguousarray((tg[3:6] - m[3:6]).T),
                             np.ascontiguousarray(m[3:6].T),
                             np.ascontiguousarray((m[ach:ach + 3] - gvec[:, None]).T),
                             np.ascontiguousarray((q0 * man[0:3]).T),
                             law, nav_ratio, tau, a_max, a3, tgo, sat)
            ac = a3.T + gvec[:, None]
            st = stats[:, act]
            st[0] = np.maximum(st[0], np.sqrt(np.einsum("ij,ij->i", a3, a3)))
            st[1] += sat
            stats[:, act] = st
        rel0 = tg - m[0:6]
        f0 = np.einsum("ij,ij->j", rel0[0:3], rel0[3:6])
        ag = ac - gvec[:, None]
        stats[2, act] += h * np.einsum("ij,ij->j", ag, ag)
        nm = np.empty_like(m)
        for j in range(3):
            idx = [j, 3 + j] + [6 + 3 * c + j for c in range(order)]
            sj = m[idx]
            gz = -grav if j == 2 else 0.0
            nm[idx] = phi @ sj + gam[:, None] * ac[j] + (gg * gz)[:, None]
        if man_kind == MAN_NONE:
            tg[0:3] = tg[0:3] + h * tg[3:6]
        else:
            fa0 = _man(man_kind, t, man[3], man[4], man[5], -tol)
            if integrator == 1:
                fam = _man(man_kind, t + 0.5 * h, man[3], man[4], man[5], 0.0)
                fa1 = _man(man_kind, t + h, man[3], man[4], man[5], tol)
                q0, q1 = man[0:3] * fa0, man[0:3] * fam
                p_new = tg[0:3] + h * tg[3:6] + h * h / 6.0 * (q0 + 2.0 * q1)
                v_new = tg[3:6] + h / 6.0 * (q0 + 4.0 * q1 + man[0:3] * fa1)
            else:
                p_new = tg[0:3] + h * tg[3:6]
                v_new = tg[3:6] + h * man[0:3] * fa0
            tg[0:3], tg[3:6] = p_new, v_new
        m = nm
        M[:, act], T[:, act], AC[:, act] = m, tg, ac
        rel1 = tg - m[0:6]
        f1 = np.einsum("ij,ij->j", rel1[0:3], rel1[3:6])
        hit = (f0 < 0.0) & (f1 >= 0.0)
        if np.any(hit):
            k = np.flatnonzero(hit)
            r0, v0 = rel0[0:3, k].T, rel0[3:6, k].T
            r1, v1 = rel1[0:3, k].T, rel1[3:6, k].T
            lo, hi = np.zeros(k.size), np.ones(k.size)
            hh = np.full(k.size, h)
            for _ in range(BISECTIONS):
                mid = 0.5 * (lo + hi)
                p, dp = _hermite(mid, hh, r0, v0, r1, v1)
                neg = np.einsum("ij,ij->i", p, dp) < 0.0
                lo = np.where(neg, mid, lo)
                hi = np.where(neg, hi, mid)
            mid = 0.5 * (lo + hi)
            p, _ = _hermite(mid, hh, r0, v0, r1, v1)
            t_cpa[act[k]] = t + mid * h
            miss[act[k]] = np.sqrt(np.einsum("ij,ij->i", p, p))
            status[act[k]] = 1
            act = act[~hit]

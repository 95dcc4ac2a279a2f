"""Point-mass engagement plant over a batch of runs (numpy twin of ext/engage.pyx).

Per run i, the interceptor state ``m[i]`` = (p, v, a) (9 floats, ENU, SI) with ``a`` the
*achieved* acceleration behind a first-order flight-control lag of time constant τ:

    ṗ = v,   v̇ = a,   ȧ = (a_c − a)/τ          (τ ≤ 0: no lag, a = a_c)

integrated by classical fixed-step RK4 with step h, the command a_c held over the call.
The target ``tg[i]`` = (p, v, a) flies with constant acceleration a, integrated exactly
(p += v h + a h²/2, v += a h).

Closest approach: during a step where the relative range stops closing — r₀·v₀ < 0 at the
start and r₁·v₁ ≥ 0 at the end (r = p_T − p_M, v = v_T − v_M) — the relative position is
interpolated by the cubic Hermite polynomial through (r₀, v₀, r₁, v₁), and the root of
d|r|²/dt = 2 r·ṙ in the step is found by 60 bisections. The run's ``cpa`` = (t_cpa, miss)
is written, ``done[i]`` set to 1 and its integration stops. Runs with ``done`` ≠ 0 are not
touched. The miss is thus resolved within the step, not rounded to it (error O(h⁴)).
"""
import numpy as np

BISECTIONS = 60


def _hermite(tau, h, r0, v0, r1, v1):
    """Relative position and its time derivative at fraction tau of the step."""
    t2, t3 = tau * tau, tau * tau * tau
    h00, h10, h01, h11 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + tau, -2 * t3 + 3 * t2, t3 - t2
    d00, d10, d01, d11 = 6 * t2 - 6 * tau, 3 * t2 - 4 * tau + 1, -6 * t2 + 6 * tau, 3 * t2 - 2 * tau
    p = h00[:, None] * r0 + (h10 * h)[:, None] * v0 + h01[:, None] * r1 + (h11 * h)[:, None] * v1
    dp = (d00[:, None] * r0 + (d10 * h)[:, None] * v0 + d01[:, None] * r1
          + (d11 * h)[:, None] * v1) / h[:, None]
    return p, dp


def _rk4_lag(m, ac, tau, h):
    """One RK4 step of (p, v, a) rows m (k, 9) under command ac (k, 3), in place."""
    p, v, a = m[:, 0:3], m[:, 3:6], m[:, 6:9]
    if tau > 0.0:
        k1p = v
        k1v = a
        k1a = (ac - a) / tau
        k2p = v + 0.5 * h * k1v
        k2v = a + 0.5 * h * k1a
        k2a = (ac - (a + 0.5 * h * k1a)) / tau
        k3p = v + 0.5 * h * k2v
        k3v = a + 0.5 * h * k2a
        k3a = (ac - (a + 0.5 * h * k2a)) / tau
        k4p = v + h * k3v
        k4v = a + h * k3a
        k4a = (ac - (a + h * k3a)) / tau
        m[:, 0:3] = p + h / 6.0 * (k1p + 2.0 * k2p + 2.0 * k3p + k4p)
        m[:, 3:6] = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
        m[:, 6:9] = a + h / 6.0 * (k1a + 2.0 * k2a + 2.0 * k3a + k4a)
    else:
        # no lag: a = a_c, so v̇ = a_c constant and RK4 is exact
        m[:, 0:3] = p + h * v + 0.5 * h * h * ac
        m[:, 3:6] = v + h * ac
        m[:, 6:9] = ac


def propagate(m, tg, a_cmd, tau, dt, nsteps, t0, done, cpa):
    """Advance every run with done == 0 by nsteps steps of dt from time t0; see module doc.

    m, tg (n, 9) in place; a_cmd (n, 3); done (n,) uint8 in/out; cpa (n, 2) written
    (t_cpa, miss) for the runs that pass closest approach in this call."""
    act = np.flatnonzero(done == 0)
    for s in range(nsteps):
        if act.size == 0:
            break
        mm, tt = m[act], tg[act]
        r0 = tt[:, 0:3] - mm[:, 0:3]
        v0 = tt[:, 3:6] - mm[:, 3:6]
        _rk4_lag(mm, a_cmd[act], tau, dt)
        tt[:, 0:3] = tt[:, 0:3] + dt * tt[:, 3:6] + 0.5 * dt * dt * tt[:, 6:9]
        tt[:, 3:6] = tt[:, 3:6] + dt * tt[:, 6:9]
        m[act], tg[act] = mm, tt
        r1 = tt[:, 0:3] - mm[:, 0:3]
        v1 = tt[:, 3:6] - mm[:, 3:6]
        hit = (np.einsum("ij,ij->i", r0, v0) < 0.0) & (np.einsum("ij,ij->i", r1, v1) >= 0.0)
        if np.any(hit):
            k = np.flatnonzero(hit)
            lo, hi = np.zeros(k.size), np.ones(k.size)
            h = np.full(k.size, dt)
            for _ in range(BISECTIONS):
                mid = 0.5 * (lo + hi)
                p, dp = _hermite(mid, h, r0[k], v0[k], r1[k], v1[k])
                neg = np.einsum("ij,ij->i", p, dp) < 0.0
                lo = np.where(neg, mid, lo)
                hi = np.where(neg, hi, mid)
            mid = 0.5 * (lo + hi)
            p, _ = _hermite(mid, h, r0[k], v0[k], r1[k], v1[k])
            cpa[act[k], 0] = t0 + s * dt + mid * dt
            cpa[act[k], 1] = np.sqrt(np.einsum("ij,ij->i", p, p))
            done[act[k]] = 1
            act = act[~hit]

"""The linearized PN homing loop and its adjoint (Zarchan, *Tactical and Strategic Missile
Guidance*, 6th ed., ch. 2–4), used to check the nonlinear engagement.

Linear loop (relative displacement y normal to the initial line of sight, closing velocity
V_c constant, flight time t_F, t_go = t_F − t):

    ÿ = n_T − n_L,    λ = y/(V_c t_go),    n_c = N′ V_c λ̇ = N′ (y + ẏ t_go)/t_go²
    (+ N′/2 · n_T for augmented PN), n_L = n_c through the binomial lag 1/(1 + sT/n)^n.

A heading error HE enters as ẏ(0) = −V_M·HE, a step target maneuver as n_T from t = 0.
The miss is y(t_F).

Adjoint: with x = (y, ẏ, a_1..a_n) the loop is ẋ = A(t_go) x + b n_T, and the miss is
y(t_F) = cᵀ x(t_F), c = e_y. In adjoint time τ (= t_go), λ' = A(τ)ᵀ λ, λ(0) = c, so that
one adjoint run gives, for every flight time t_F = τ at once,

    miss_HE(t_F) = λ_ẏ(t_F) · (−V_M HE),     miss_step(t_F) = n_T ∫₀^{t_F} λ_ẏ dτ.

The singular terms (∝ 1/τ², 1/τ) multiply the first lag state, which is O(τ^{n+1}) near
τ = 0; the integration starts at τ₀ = 1e−7 s from its series λ ≈ c + τ e_ẏ.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import InputError


def _check(nav_ratio, tau, order):
    if not nav_ratio > 0:
        raise InputError(f"nav_ratio: must be > 0, got {nav_ratio!r}")
    if not tau > 0:
        raise InputError(f"tau: the adjoint needs a lag time constant > 0, got {tau!r}")
    if not (int(order) == order and 1 <= order <= 8):
        raise InputError(f"order: expected an integer in [1, 8], got {order!r}")


def adjoint_miss(nav_ratio: float, tau: float, t_f, order: int = 1) -> dict:
    """Miss distance of the linear PN loop with an n-th order binomial lag of total time
    constant ``tau``, per unit cause, at the flight times ``t_f`` (array, s):
    ``he`` — miss per unit (−V_M·HE) (m per m/s of initial ẏ, i.e. multiply by −V_M·HE);
    ``step`` — miss per unit step target maneuver (m per m/s²)."""
    _check(nav_ratio, tau, order)
    t_f = np.atleast_1d(np.asarray(t_f, float))
    d = order + 2
    w = order / tau
    N = float(nav_ratio)

    def rhs(s, lam):
        out = np.zeros(d + 1)
        # λ' = Aᵀ λ ; A[0,1] = 1, A[1,d−1] = −1, A[2,0] = wN/s², A[2,1] = wN/s,
        # A[k,k] = −w, A[k,k−1] = w (k ≥ 3)
        out[0] = w * N / (s * s) * lam[2]
        out[1] = lam[0] + w * N / s * lam[2]
        for k in range(2, d):
            out[k] = -w * lam[k] + (w * lam[k + 1] if k + 1 < d else 0.0)
        out[d - 1] += -lam[1]
        out[d] = lam[1]                        # ∫ λ_ẏ dτ
        return out

    tau0 = 1e-7
    lam0 = np.zeros(d + 1)
    lam0[0], lam0[1], lam0[d] = 1.0, tau0, 0.5 * tau0 * tau0
    sol = solve_ivp(rhs, (tau0, float(t_f.max())), lam0, method="DOP853", rtol=1e-11,
                    atol=1e-13, dense_output=True)
    lam = sol.sol(np.maximum(t_f, tau0))
    return {"t_f": t_f, "he": lam[1], "step": lam[d]}


def linear_pn(nav_ratio: float, t_f: float, *, tau: float = 0.0, order: int = 1,
              v_m: float = 1000.0, he: float = 0.0, n_t: float = 0.0, augmented: bool = False,
              h: float = 1e-4) -> dict:
    """Forward simulation of the linear loop (RK4, step h) up to t_F; returns t, y, ẏ,
    n_c, n_L (arrays) and the miss y(t_F). The command is evaluated with t_go floored at
    h/2 (the loop gain grows without bound at t_F)."""
    if tau > 0:
        _check(nav_ratio, tau, order)
    N = float(nav_ratio)
    nsteps = int(round(t_f / h))
    d = order + 2 if tau > 0 else 2
    w = order / tau if tau > 0 else 0.0

    def nc_of(t, x):
        tgo = max(t_f - t, 0.5 * h)
        c = N * (x[0] + x[1] * tgo) / (tgo * tgo)
        return c + (0.5 * N * n_t if augmented else 0.0)

    def f(t, x):
        c = nc_of(t, x)
        dx = np.zeros(d)
        dx[0] = x[1]
        if tau > 0:
            dx[1] = n_t - x[d - 1]
            dx[2] = w * (c - x[2])
            for k in range(3, d):
                dx[k] = w * (x[k - 1] - x[k])
        else:
            dx[1] = n_t - c
        return dx

    x = np.zeros(d)
    x[1] = -v_m * he
    ts, ys, ncs, nls = [0.0], [x[0]], [nc_of(0.0, x)], [x[d - 1] if tau > 0 else nc_of(0.0, x)]
    for k in range(nsteps):
        t = k * h
        k1 = f(t, x)
        k2 = f(t + h / 2, x + h / 2 * k1)
        k3 = f(t + h / 2, x + h / 2 * k2)
        k4 = f(t + h, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ts.append((k + 1) * h)
        ys.append(x[0])
        ncs.append(nc_of((k + 1) * h, x))
        nls.append(x[d - 1] if tau > 0 else ncs[-1])
    return {"t": np.array(ts), "y": np.array(ys), "n_c": np.array(ncs), "n_L": np.array(nls),
            "miss": float(x[0])}

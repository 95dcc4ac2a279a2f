"""Guidance laws over a batch of engagements (stage API over ext/guidance.pyx).

Laws (Zarchan, *Tactical and Strategic Missile Guidance*, 6th ed.; the equations are in
xband.reference.guidance):

* ``pp``  — pure pursuit: turn the velocity onto the line of sight
* ``pn``  — pure proportional navigation, command ⟂ interceptor velocity:
  a = N′ |v_M| ω × v̂_M
* ``tpn`` — true proportional navigation, command ⟂ line of sight: a = N′ V_c ω × û
* ``apn`` — augmented PN: true PN + N′/2 · (target acceleration across the LOS)
* ``ogl`` — the optimal (zero-effort-miss) law compensating a first-order lag τ; its gain
  N′(t_go/τ) has a series form as t_go → 0

with ω the line-of-sight rate vector and V_c the closing velocity. Commands are limited
to ``a_max`` and flagged saturated. The reported time to go is R/|v|·(1 + θ²/(2(2N′−1)))
(θ the angle between the closing velocity and the LOS), better than R/V_c at large
heading errors; +inf when not closing.
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from ..errors import InputError

LAWS = {"pn": 1, "tpn": 2, "pp": 3, "apn": 4, "ogl": 5}


def _vec(name, a, n=None):
    a = np.ascontiguousarray(a, np.float64)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if n is not None and a.shape == (1, 3) and n != 1:
        a = np.ascontiguousarray(np.broadcast_to(a, (n, 3)))
    if a.ndim != 2 or a.shape[1] != 3 or (n is not None and a.shape[0] != n):
        raise InputError(f"{name}: expected shape ({n if n is not None else 'n'}, 3), "
                         f"got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name}: non-finite values")
    return a


def check_law(law: str, nav_ratio: float, a_max: float, tau: float = 0.0) -> int:
    """Validate the law parameters; returns the kernel's law code."""
    if law not in LAWS:
        raise InputError(f"law: expected one of {', '.join(LAWS)}, got {law!r}")
    if not (nav_ratio > 0 and np.isfinite(nav_ratio)):
        raise InputError(f"nav_ratio: must be a positive finite number, got {nav_ratio!r}")
    if not a_max > 0:
        raise InputError(f"a_max: must be > 0, got {a_max!r}")
    if not (tau >= 0 and np.isfinite(tau)):
        raise InputError(f"tau: must be a finite number >= 0, got {tau!r}")
    return LAWS[law]


def command(rel_pos, rel_vel, m_vel, law: str = "tpn", nav_ratio: float = 4.0,
            a_max: float = np.inf, *, t_acc=None, m_acc=None, tau: float = 0.0):
    """Guidance commands for n engagements.

    rel_pos, rel_vel: target minus interceptor position (m) and velocity (m/s), (n, 3);
    m_vel: interceptor velocity (n, 3). Keywords: ``t_acc`` the target-acceleration
    estimate (n, 3) for ``apn`` and ``ogl`` (default 0), ``m_acc`` the interceptor's
    achieved acceleration (n, 3) and ``tau`` (s) its first-order lag, for ``ogl``.
    Returns (a_cmd (n, 3) m/s², t_go (n,) s — +inf when not closing — and saturated (n,)
    bool).
    """
    code = check_law(law, nav_ratio, a_max, tau)
    rel_pos = _vec("rel_pos", rel_pos)
    n = rel_pos.shape[0]
    rel_vel, m_vel = _vec("rel_vel", rel_vel, n), _vec("m_vel", m_vel, n)
    t_acc = np.zeros((n, 3)) if t_acc is None else _vec("t_acc", t_acc, n)
    m_acc = np.zeros((n, 3)) if m_acc is None else _vec("m_acc", m_acc, n)
    a = np.empty((n, 3))
    t_go = np.empty(n)
    sat = np.empty(n, np.uint8)
    _kernels.get("guidance").guidance_command(rel_pos, rel_vel, m_vel, m_acc, t_acc, code,
                                              float(nav_ratio), float(tau), float(a_max),
                                              a, t_go, sat)
    return a, t_go, sat.astype(bool)


def ogl_nav_ratio(x) -> np.ndarray:
    """Effective navigation ratio N′(x) of the optimal law, x = t_go/τ > 0."""
    x = np.ascontiguousarray(x, np.float64).reshape(-1)
    if not np.all(x > 0) or not np.all(np.isfinite(x)):
        raise InputError("x: every t_go/τ must be finite and > 0")
    out = np.empty_like(x)
    _kernels.get("guidance").ogl_nav_ratio(x, out)
    return out

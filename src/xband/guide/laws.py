"""Guidance laws over a batch of engagements (stage API over ext/guidance.pyx).

Laws (Zarchan, *Tactical and Strategic Missile Guidance*, 6th ed.; the equations are in
xband.reference.guidance):

* ``pn``  — pure proportional navigation, command ⟂ interceptor velocity:
  a = N′ |v_M| ω × v̂_M
* ``tpn`` — true proportional navigation, command ⟂ line of sight: a = N′ V_c ω × û

with ω the line-of-sight rate vector and V_c the closing velocity. Commands are limited
to ``a_max`` and flagged saturated.
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from ..errors import InputError

LAWS = {"pn": 1, "tpn": 2}


def _vec(name, a, n=None):
    a = np.ascontiguousarray(a, np.float64)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != 3 or (n is not None and a.shape[0] != n):
        raise InputError(f"{name}: expected shape ({n if n is not None else 'n'}, 3), "
                         f"got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name}: non-finite values")
    return a


def command(rel_pos, rel_vel, m_vel, law: str = "tpn", nav_ratio: float = 4.0,
            a_max: float = np.inf):
    """Guidance commands for n engagements.

    rel_pos, rel_vel: target minus interceptor position (m) and velocity (m/s), (n, 3);
    m_vel: interceptor velocity (n, 3). Returns (a_cmd (n, 3) m/s², t_go (n,) s — +inf
    when not closing — and saturated (n,) bool).
    """
    if law not in LAWS:
        raise InputError(f"law: expected one of {', '.join(LAWS)}, got {law!r}")
    if not (nav_ratio > 0 and np.isfinite(nav_ratio)):
        raise InputError(f"nav_ratio: must be a positive finite number, got {nav_ratio!r}")
    if not a_max > 0:
        raise InputError(f"a_max: must be > 0, got {a_max!r}")
    rel_pos = _vec("rel_pos", rel_pos)
    n = rel_pos.shape[0]
    rel_vel, m_vel = _vec("rel_vel", rel_vel, n), _vec("m_vel", m_vel, n)
    a = np.empty((n, 3))
    t_go = np.empty(n)
    sat = np.empty(n, np.uint8)
    _kernels.get("guidance").guidance_command(rel_pos, rel_vel, m_vel, LAWS[law],
                                              float(nav_ratio), float(a_max), a, t_go, sat)
    return a, t_go, sat.astype(bool)

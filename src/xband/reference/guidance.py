"""Proportional-navigation guidance commands over a batch (numpy twin of ext/guidance.pyx).

Inputs per engagement i: relative position r = p_T − p_M, relative velocity v = v_T − v_M
(ENU, m and m/s), interceptor velocity v_M. With the line-of-sight (LOS) unit vector
u = r/|r| and the LOS rate vector ω = (r × v)/|r|² (rad/s), closing velocity
V_c = −(r·v)/|r| (Zarchan, *Tactical and Strategic Missile Guidance*, 6th ed., ch. 2):

* law 1, pure PN (``pn``):   a = N′ |v_M| (ω × v_M/|v_M|)     ⟂ interceptor velocity
* law 2, true PN (``tpn``):  a = N′ V_c  (ω × u)               ⟂ line of sight

ω × u = v_⊥/|r|, the relative velocity across the LOS over the range, so true PN steers to
null the LOS rotation. Time to go: t_go = |r|/V_c when closing (V_c > 0), else +inf.
Commands longer than ``a_max`` (m/s², > 0) are scaled back to it and flagged saturated.
At r = 0 the command is 0 and t_go = 0.
"""
import numpy as np

LAW_PURE_PN, LAW_TRUE_PN = 1, 2


def guidance_command(rel_pos, rel_vel, m_vel, law, nav_ratio, a_max, a_out, t_go, sat):
    """Write a_out (n, 3), t_go (n,), sat (n,) uint8 from the batch; see the module doc."""
    r2 = np.einsum("ij,ij->i", rel_pos, rel_pos)
    r = np.sqrt(r2)
    safe_r2 = np.where(r2 > 0.0, r2, 1.0)
    safe_r = np.sqrt(safe_r2)
    omega = np.cross(rel_pos, rel_vel) / safe_r2[:, None]           # LOS rate (rad/s)
    vc = -np.einsum("ij,ij->i", rel_pos, rel_vel) / safe_r           # closing velocity
    if law == LAW_TRUE_PN:
        u = rel_pos / safe_r[:, None]
        a = nav_ratio * vc[:, None] * np.cross(omega, u)             # N′ Vc ω × u
    elif law == LAW_PURE_PN:
        vm = np.sqrt(np.einsum("ij,ij->i", m_vel, m_vel))
        uv = m_vel / np.where(vm > 0.0, vm, 1.0)[:, None]
        a = nav_ratio * vm[:, None] * np.cross(omega, uv)           # N′ |v_M| ω × u_v
    else:
        raise ValueError(f"unknown guidance law code {law}")
    a[r2 == 0.0] = 0.0
    amag = np.sqrt(np.einsum("ij,ij->i", a, a))
    over = amag > a_max
    scale = np.where(over, a_max / np.where(over, amag, 1.0), 1.0)
    a_out[:] = a * scale[:, None]
    sat[:] = over
    with np.errstate(divide="ignore"):
        t_go[:] = np.where(vc > 0.0, r / np.where(vc > 0.0, vc, 1.0), np.inf)
    t_go[r2 == 0.0] = 0.0

"""Cartesian ENU ↔ spherical radar coordinates (numpy twin of ext/coords.pyx).

Conventions (docs/conventions.md): azimuth from north (+y) clockwise toward east (+x),
az = atan2(x, y) in (−π, π]; elevation el = atan2(z, √(x²+y²)); range r = |p|;
range rate ṙ = p·v / r (negative when closing). At r = 0 every output is 0.
"""
import numpy as np


def cart_to_sph(pos, vel, out):
    """pos, vel (n, 3) float64 ENU → out (n, 4) = (range, az, el, range_rate), in place."""
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    rho = np.hypot(x, y)                      # ground range
    r = np.sqrt(rho * rho + z * z)            # slant range
    out[:, 0] = r
    out[:, 1] = np.arctan2(x, y)              # from north, clockwise
    out[:, 2] = np.arctan2(z, rho)
    pv = np.einsum("ij,ij->i", pos, vel)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 3] = np.where(r > 0.0, pv / np.where(r > 0.0, r, 1.0), 0.0)


def sph_to_cart(meas, out):
    """meas (n, 4) = (range, az, el, range_rate) → out (n, 6) position and the radial
    velocity vector ṙ·û (the only velocity a single measurement observes), in place."""
    r, az, el, rr = meas[:, 0], meas[:, 1], meas[:, 2], meas[:, 3]
    ce = np.cos(el)
    u = np.stack([ce * np.sin(az), ce * np.cos(az), np.sin(el)], axis=1)  # unit LOS
    out[:, 0:3] = r[:, None] * u
    out[:, 3:6] = rr[:, None] * u

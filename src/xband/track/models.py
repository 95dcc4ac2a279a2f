"""Motion models: transition matrix F and process noise Q for a time step dt.

State order (x, y, z, vx, vy, vz) in ENU. The constant-velocity (CV) model is driven by
continuous white-noise acceleration of power spectral density q (m²/s³) on each axis
(Bar-Shalom, Li & Kirubarajan 2001, §6.2.2, "continuous white noise acceleration"):

    F = [[I, dt·I], [0, I]]
    Q = q · [[dt³/3 · I, dt²/2 · I], [dt²/2 · I, dt · I]]

Note: FilterPy's ``Q_discrete_white_noise`` is the *discrete* white-noise form
(Γ Γᵀ σ², with dt⁴/4, dt³/2, dt²) — a different matrix for the same name; pass explicit
matrices when comparing.
"""
from __future__ import annotations

import numpy as np


def cv_matrices(dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """F (6, 6) and Q (6, 6) of the 3-D constant-velocity model over ``dt`` seconds."""
    I3 = np.eye(3)
    F = np.block([[I3, dt * I3], [np.zeros((3, 3)), I3]])
    Q = q * np.block([[dt ** 3 / 3 * I3, dt ** 2 / 2 * I3], [dt ** 2 / 2 * I3, dt * I3]])
    return np.ascontiguousarray(F), np.ascontiguousarray(Q)

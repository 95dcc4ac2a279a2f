"""Motion models: transition F (or f and its Jacobian) and process noise Q over a step dt.

States (ENU, SI), each starting with position and velocity so that measurement models
and the IMM can share those components:

==========  ====  ===============================================  ======================
model       dim   state                                            driving noise
==========  ====  ===============================================  ======================
``cv``      6     x y z vx vy vz                                   white acceleration, q
``ca``      9     x y z vx vy vz ax ay az                          white jerk, q
``singer``  9     x y z vx vy vz ax ay az                          Singer: σ_a², τ_m
``ct``      7     x y z vx vy vz ω                                 white accel q, ω̇: q_ω
==========  ====  ===============================================  ======================

Process noise comes in the *continuous* white-noise form, integrated exactly over dt
(Bar-Shalom, Li & Kirubarajan 2001, §6.2.2 and §6.2.3):

* CV: Q = q [[dt³/3, dt²/2], [dt²/2, dt]] per axis (q in m²/s³);
* CA (Wiener-process acceleration): Q = q [[dt⁵/20, dt⁴/8, dt³/6], [dt⁴/8, dt³/3, dt²/2],
  [dt³/6, dt²/2, dt]] per axis (q in m²/s⁵);
* Singer (Singer 1970; Bar-Shalom §8.2.3): ȧ = −a/τ_m + w, F with e^{−dt/τ_m}, Q = 2σ_a²/τ_m ·
  ∫ e^{A s} b bᵀ e^{Aᵀ s} ds — Singer's closed form for dt/τ_m > 0.5, Van Loan's
  matrix-exponential method below it (where the closed form cancels catastrophically);
* CT (coordinated turn in the horizontal plane, Bar-Shalom §11.7.2): ω in rad/s, positive
  counter-clockwise seen from above (x east, y north); vertical channel CV; position and
  velocity noise of the CV form with q, and ω a random walk with q_ω (rad²/s³).

FilterPy's ``Q_discrete_white_noise`` is the *discrete* white-noise form (dt⁴/4, dt³/2, dt²)
— a different matrix for the same q; pass explicit matrices when comparing (the tests do).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import expm

from .. import _kernels
from ..errors import ConfigError

I3 = np.eye(3)


def _kron3(block: np.ndarray) -> np.ndarray:
    """Per-axis block (k×k over derivatives) → (3k×3k) in the x y z, vx vy vz, … layout."""
    return np.ascontiguousarray(np.kron(block, I3))


def cv_matrices(dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """F (6, 6) and Q (6, 6) of the 3-D constant-velocity model over ``dt`` seconds."""
    F = _kron3(np.array([[1.0, dt], [0.0, 1.0]]))
    Q = q * _kron3(np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]]))
    return F, Q


def ca_matrices(dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """F (9, 9) and Q (9, 9) of the 3-D constant-acceleration (Wiener acceleration) model."""
    F = _kron3(np.array([[1.0, dt, dt * dt / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]]))
    Q = q * _kron3(np.array([[dt ** 5 / 20, dt ** 4 / 8, dt ** 3 / 6],
                             [dt ** 4 / 8, dt ** 3 / 3, dt ** 2 / 2],
                             [dt ** 3 / 6, dt ** 2 / 2, dt]]))
    return F, Q


def singer_matrices(dt: float, sigma_a: float, tau_m: float) -> tuple[np.ndarray, np.ndarray]:
    """F and Q (9, 9) of the Singer model: acceleration a first-order Markov process with
    standard deviation σ_a (m/s²) and time constant τ_m (s)."""
    if not (tau_m > 0 and sigma_a >= 0):
        raise ConfigError(f"singer: need tau_m > 0 and sigma_a >= 0, got {tau_m}, {sigma_a}")
    a, T = 1.0 / tau_m, dt
    aT = a * T
    e1, e2 = np.exp(-aT), np.exp(-2 * aT)
    Phi = np.array([[1.0, T, (aT - 1 + e1) / (a * a)], [0.0, 1.0, (1 - e1) / a], [0.0, 0.0, e1]])
    if aT > 0.5:
        # Singer's closed form (Bar-Shalom §8.2.3), times the PSD 2σ²/τ = 2aσ²
        q11 = (1 - e2 + 2 * aT + 2 * aT ** 3 / 3 - 2 * aT ** 2 - 4 * aT * e1) / (2 * a ** 5)
        q12 = (e2 + 1 - 2 * e1 + 2 * aT * e1 - 2 * aT + aT ** 2) / (2 * a ** 4)
        q13 = (1 - e2 - 2 * aT * e1) / (2 * a ** 3)
        q22 = (4 * e1 - 3 - e2 + 2 * aT) / (2 * a ** 3)
        q23 = (e2 + 1 - 2 * e1) / (2 * a ** 2)
        q33 = (1 - e2) / (2 * a)
        Qa = 2 * a * sigma_a ** 2 * np.array([[q11, q12, q13], [q12, q22, q23], [q13, q23, q33]])
    else:
        # small a·dt: the closed form cancels catastrophically; Van Loan (1978) is exact
        # and well conditioned here: expm([[−A, q b bᵀ], [0, Aᵀ]] dt) = [[·, Φ⁻¹Q], [0, Φᵀ]]
        A = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, -a]])
        Bq = np.zeros((3, 3))
        Bq[2, 2] = 2.0 * sigma_a ** 2 * a
        E = expm(np.block([[-A, Bq], [np.zeros((3, 3)), A.T]]) * dt)
        Phi = E[3:, 3:].T
        Qa = Phi @ E[:3, 3:]
    Qa = 0.5 * (Qa + Qa.T)
    return _kron3(Phi), _kron3(Qa)


@lru_cache(maxsize=256)
def _linear_cached(spec: "ModelSpec", dt: float):
    if spec.kind == "cv":
        F, Q = cv_matrices(dt, spec.q)
    elif spec.kind == "ca":
        F, Q = ca_matrices(dt, spec.q)
    elif spec.kind == "singer":
        F, Q = singer_matrices(dt, spec.sigma_a, spec.tau_m)
    else:
        return None
    F.flags.writeable = False
    Q.flags.writeable = False
    return F, Q


def ct_noise(dt: float, q: float, q_omega: float) -> np.ndarray:
    """Q (7, 7) of the coordinated-turn model (CV-form noise on x y z, ω a random walk)."""
    Q = np.zeros((7, 7))
    Q[:6, :6] = cv_matrices(dt, q)[1]
    Q[6, 6] = q_omega * dt
    return Q


def ct_predict(x: np.ndarray, P: np.ndarray, dt: float, Q: np.ndarray) -> None:
    """EKF prediction of coordinated-turn states x (n, 7), P (n, 7, 7) in place."""
    _kernels.get("kalman").ct_predict(x, P, float(dt), np.ascontiguousarray(Q, np.float64))


@dataclass(frozen=True)
class ModelSpec:
    """One motion model of a filter or an IMM: ``kind`` in cv/ca/singer/ct and its noise
    parameters: ``q`` (PSD of the driving noise), ``q_omega`` (CT turn-rate PSD),
    ``sigma_a`` and ``tau_m`` (Singer)."""

    kind: str = "cv"
    q: float = 1.0
    q_omega: float = 1e-4
    sigma_a: float = 10.0
    tau_m: float = 10.0

    #: index of each model's state components in the IMM's common space
    #: (x y z vx vy vz ax ay az ω)
    COMMON_DIM = 10

    def __post_init__(self):
        if self.kind not in ("cv", "ca", "singer", "ct"):
            raise ConfigError(f"motion model kind: expected cv, ca, singer or ct, got "
                              f"{self.kind!r}")
        for name in ("q", "q_omega", "sigma_a", "tau_m"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ConfigError(f"motion model {self.kind}: {name} must be finite and >= 0, "
                                  f"got {v!r}")

    @property
    def dim(self) -> int:
        return {"cv": 6, "ca": 9, "singer": 9, "ct": 7}[self.kind]

    @property
    def common_index(self) -> np.ndarray:
        """Where this model's components sit in the common IMM state (length ``dim``)."""
        return {"cv": np.arange(6), "ca": np.arange(9), "singer": np.arange(9),
                "ct": np.r_[np.arange(6), 9]}[self.kind]

    def linear(self, dt: float):
        """(F, Q) for the linear models; None for CT (nonlinear). Cached per (model, dt):
        a tracker asks for the same scan interval again and again. The arrays are shared;
        callers must not modify them."""
        return _linear_cached(self, float(dt))

    def predict(self, x: np.ndarray, P: np.ndarray, dt: float) -> None:
        """Predict the batch x (n, dim), P (n, dim, dim) in place over dt."""
        from . import filters

        lin = self.linear(dt)
        if lin is None:
            ct_predict(x, P, dt, ct_noise(dt, self.q, self.q_omega))
        else:
            filters.predict(x, P, *lin)

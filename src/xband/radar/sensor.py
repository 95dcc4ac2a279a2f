"""``IQSensor``: truth → I/Q cube → detection chain → Detections, one CPI per scan.

The drop-in for the closed loop (the same ``scan(t, pos, vel, rcs, rng)`` shape as the
foundation's truth-plus-noise model), but every detection comes out of the real chain with
its own covariance R.

Beam pointing policy (``pointing``):

* ``"first"`` (default): the beam is pointed at the first target's true direction at t
  (a tracking radar slaved to its designated target; other targets are seen through the
  pattern, off boresight);
* ``(az, el)``: a fixed direction (rad).

Velocity ambiguity: a single PRF folds range rates into a window 2·v_ua wide (±75 m/s at
10 GHz and 10 kHz). ``velocity_gate="fixed"`` keeps the window of ``DetectConfig.v_min_mps``
(e.g. ``-300`` → [−300, −150) m/s); ``"slaved"`` centres it, every CPI, on the first
target's range rate — as a tracking radar centres its Doppler gate on the designated
target (here from truth, like the pointing), so that a manoeuvring engaged target never
folds while other targets may.

CPI size: ``IQSensor()`` uses ``RadarParams.demo()`` (32 pulses × 1024 samples × 3
channels, a few ms per scan including the synthesis); ``RadarParams.small()`` (64 × 2048) and
the full ``RadarParams()`` (128 × 4096) are ≈ 4× and ≈ 16× more work per scan — the thermal
noise of every sample (3 channels) dominates the synthesis.
"""
from __future__ import annotations

import numpy as np

from ..detect.chain import ChainOutput, DetectConfig, DetectionChain
from ..errors import ConfigError
from ..types import Detections
from .params import RadarParams
from .scene import Clutter, direction_of, synthesize


class IQSensor:
    """Synthesise the CPI of a scene and run the detection chain on it."""

    def __init__(self, params: RadarParams | None = None, config: DetectConfig | None = None,
                 *, pointing="first", swerling: int = 0, channels: int = 3,
                 clutter: Clutter | None = None, velocity_gate: str = "fixed"):
        self.params = params or RadarParams.demo()
        self.config = config or DetectConfig(v_min_mps=-300.0)
        if not (pointing == "first" or (len(pointing) == 2)):
            raise ConfigError(f"pointing: 'first' or (az, el), got {pointing!r}")
        if swerling not in (0, 1, 2, 3, 4):
            raise ConfigError(f"swerling: expected 0–4, got {swerling!r}")
        if velocity_gate not in ("fixed", "slaved"):
            raise ConfigError(f"velocity_gate: 'fixed' or 'slaved', got {velocity_gate!r}")
        self.velocity_gate = velocity_gate
        self.pointing, self.swerling, self.channels = pointing, swerling, channels
        self.clutter = clutter
        self.chain = DetectionChain(self.params, self.config)
        self.last: ChainOutput | None = None

    def beam(self, pos: np.ndarray) -> tuple[float, float]:
        if self.pointing == "first":
            return direction_of(pos[0]) if len(pos) else (0.0, 0.0)
        return (float(self.pointing[0]), float(self.pointing[1]))

    def scan(self, t: float, pos: np.ndarray, vel: np.ndarray, rcs: np.ndarray,
             rng: np.random.Generator) -> Detections:
        """Detections of one CPI starting at ``t`` of targets ``pos``, ``vel`` (k, 3) ENU
        with RCS ``rcs`` (k,) m²; ``rng`` draws the noise, clutter and fluctuation."""
        pos = np.asarray(pos, float).reshape(-1, 3)
        pt = self.beam(pos)
        if self.velocity_gate == "slaved" and len(pos):
            v0 = np.asarray(vel, float).reshape(-1, 3)[0]
            rr = float(pos[0] @ v0) / max(float(np.linalg.norm(pos[0])), 1e-9)
            self.chain.v_min = rr - self.params.unambiguous_velocity_mps
        cube = synthesize(self.params, t, pos, vel, rcs, rng, pointing=pt,
                          swerling=self.swerling, channels=self.channels, clutter=self.clutter)
        self.last = self.chain.process(cube, pt)
        return self.last.detections

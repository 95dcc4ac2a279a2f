"""xband: pulse-Doppler radar from I/Q to detections, tracks and intercept guidance.

API index (each name is documented where it lives):

* Records (xband.types): ``Cube``, ``Detections``, ``Tracks``, ``Commands``, ``PlantState``.
* Errors (xband.errors): ``XbandError`` and its subclasses ``ConfigError``, ``InputError``,
  ``ProtocolError``, ``RecordingError``, ``HardwareError``, ``KernelError``.
* Scenario (xband.config): ``Scenario``, ``load_scenario``, ``default_scenario``.
* Stages: ``xband.radar.measure`` (truth → measurements), ``xband.track`` (EKF tracker),
  ``xband.guide`` (guidance laws and the engagement plant), ``xband.pipeline`` (the loop).
* Kernels: ``xband._kernels.backend()`` tells which twin runs (``XBAND_KERNELS``).
* Wire and recordings: ``xband.hil.codec``, ``xband.io.recording``.
"""
from .errors import (  # noqa: F401
    ConfigError,
    HardwareError,
    InputError,
    KernelError,
    ProtocolError,
    RecordingError,
    XbandError,
)
from .types import Commands, Cube, Detections, PlantState, Tracks  # noqa: F401

__version__ = "0.1.0"

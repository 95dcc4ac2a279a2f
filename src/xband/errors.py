"""The error hierarchy: one base, one subclass per kind of failure.

Every message names the file, key, field or frame at fault and what was expected, so a
user can act on it without a traceback.
"""


class XbandError(Exception):
    """Base of every error xband raises on purpose."""


class ConfigError(XbandError, ValueError):
    """A scenario, CLI flag or parameter is unknown, of the wrong type or out of range."""


class InputError(XbandError, ValueError):
    """An array or record handed to a stage has the wrong shape, dtype or non-finite values."""


class ProtocolError(XbandError):
    """A wire frame is malformed: bad COBS, CRC, header, length or payload layout."""


class RecordingError(XbandError):
    """A recording file cannot be opened, written or is not an xband recording."""


class HardwareError(XbandError):
    """A device or the library it needs is missing or failed."""


class KernelError(XbandError, ImportError):
    """A compiled kernel was required (XBAND_KERNELS=cython) but is not built."""

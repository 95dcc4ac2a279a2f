"""Kernel backend selection: compiled ``xband._ext.<stem>`` or numpy ``xband.reference.<stem>``.

``XBAND_KERNELS`` chooses, read once at first use (``set_backend`` changes it later):

* ``auto`` (default): the compiled kernels; if any is missing, every stage uses the numpy
  references and one loud warning names the build command.
* ``cython``: a missing compiled kernel is a ``KernelError`` (make test, CI and benches).
* ``reference``: force the numpy twins.

The two twins of a stem have the same function names, argument order and output semantics
(tests/kernels/test_parity.py checks it), so a stage calls ``get("kalman").kf_predict(...)``
and does not care which one runs.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import warnings
from types import ModuleType

from .errors import ConfigError, KernelError

def _stems() -> tuple:
    """Every kernel stem: one numpy twin src/xband/reference/<stem>.py per ext/<stem>.pyx
    (tests/kernels/test_parity.py checks that the two sets agree)."""
    from . import reference

    return tuple(sorted(m.name for m in pkgutil.iter_modules(reference.__path__)
                        if not m.name.startswith("_")))


#: Every kernel stem: ext/<stem>.pyx and src/xband/reference/<stem>.py.
STEMS = _stems()
MODES = ("auto", "cython", "reference")
BUILD_HINT = "make build  (or: pip install -e . — needs Cython>=3, numpy and a C compiler)"

_state: dict = {"mode": None, "backend": None, "mods": {}}


def _cpu_has_avx2() -> bool:
    """AVX2 on this CPU (numpy's run-time dispatch table, else /proc/cpuinfo)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
        return bool(__cpu_features__.get("AVX2", False))
    except Exception:       # numpy internals moved: ask the kernel
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                return any(line.startswith("flags") and " avx2" in line for line in f)
        except OSError:
            return False


def isa() -> str:
    """``avx2`` when the AVX2 builds of the kernels that have one are used, else
    ``baseline`` (``XBAND_ISA=baseline`` forces the baseline builds)."""
    want = os.environ.get("XBAND_ISA", "auto").strip().lower() or "auto"
    if want not in ("auto", "baseline", "avx2"):
        raise ConfigError(f"XBAND_ISA={want!r}: expected one of auto, baseline, avx2")
    if want == "baseline" or not _cpu_has_avx2():
        return "baseline"
    return "avx2"


def _load_compiled(stem: str) -> ModuleType:
    if isa() == "avx2":
        try:                # an ISA variant (ext/isa/<stem>_avx2.pyx) where one is built
            return importlib.import_module(f"xband._ext.{stem}_avx2")
        except ImportError:
            pass
    return importlib.import_module(f"xband._ext.{stem}")


def _resolve(mode: str) -> str:
    if mode == "reference":
        return "reference"
    missing = []
    for stem in STEMS:
        try:
            _load_compiled(stem)
        except ImportError as exc:
            missing.append(f"{stem} ({exc})")
    if not missing:
        return "cython"
    if mode == "cython":
        raise KernelError(
            "XBAND_KERNELS=cython but compiled kernels are missing: "
            + "; ".join(missing) + f". Build them with: {BUILD_HINT}"
        )
    warnings.warn(
        "\n" + "!" * 72 + "\nxband: compiled kernels not built ("
        + ", ".join(m.split(" ")[0] for m in missing)
        + ");\nfalling back to the SLOW numpy reference kernels.\nBuild them with: "
        + BUILD_HINT + "\n" + "!" * 72,
        RuntimeWarning,
        stacklevel=3,
    )
    return "reference"


def set_backend(mode: str | None = None) -> str:
    """Select the backend (``auto``/``cython``/``reference``; None rereads XBAND_KERNELS).

    Returns the backend in force: ``"cython"`` or ``"reference"``.
    """
    if mode is None:
        mode = os.environ.get("XBAND_KERNELS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigError(f"XBAND_KERNELS={mode!r}: expected one of {', '.join(MODES)}")
    _state["mode"] = mode
    _state["backend"] = _resolve(mode)
    _state["mods"] = {}
    return _state["backend"]


def backend() -> str:
    """The backend in force: ``"cython"`` (compiled) or ``"reference"`` (numpy)."""
    if _state["backend"] is None:
        set_backend()
    return _state["backend"]


def get(stem: str) -> ModuleType:
    """The kernel module for ``stem`` on the backend in force."""
    mods = _state["mods"]
    mod = mods.get(stem)
    if mod is None:
        if stem not in STEMS:
            raise KernelError(f"unknown kernel stem {stem!r}; known: {', '.join(STEMS)}")
        if backend() == "cython":
            mod = _load_compiled(stem)
        else:
            mod = importlib.import_module(f"xband.reference.{stem}")
        mods[stem] = mod
    return mod

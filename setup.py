"""Build the Cython kernels: every ext/<stem>.pyx becomes xband._ext.<stem>.

Everything else about the package lives in pyproject.toml; this file only lists the
extensions, their compiler flags and the Cython directives (set once, here).
"""
import os
import platform
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

HERE = Path(__file__).parent
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}

# XBAND_BUILD_ONLY=stem1,stem2 builds just those kernels (in-place development builds:
#   XBAND_BUILD_ONLY=kalman python setup.py build_ext --inplace)
ONLY = {s for s in os.environ.get("XBAND_BUILD_ONLY", "").split(",") if s}

# -g0: no debug information (a third less compile time, the same code);
# XBAND_DEBUG_INFO=1 keeps Python's -g for perf annotate and gdb.
FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math"] + \
    ([] if os.environ.get("XBAND_DEBUG_INFO") == "1" else ["-g0"])


def _extension(pyx: Path, extra: tuple = ()) -> Extension:
    return Extension(
        f"xband._ext.{pyx.stem}",
        [str(pyx.relative_to(HERE))],
        include_dirs=[np.get_include(), "ext"],
        extra_compile_args=FLAGS + list(extra),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )


extensions = [_extension(pyx) for pyx in sorted((HERE / "ext").glob("*.pyx"))
              if not ONLY or pyx.stem in ONLY]

# ISA variants (x86-64 only): ext/isa/<stem>_avx2.pyx includes ext/<stem>.pyx and is built
# with -mavx2; xband._kernels picks it at run time when the CPU has AVX2, so the wheel still
# runs on any x86-64. Only where it was measured to pay and to give the same bits
# (benches/bench_guide.py --isa).
# Extra flags of a variant: -funroll-loops for the four-track blocks of kalman/imm (their
# ≤ 12-long lane loops; no change to the arithmetic, measured ≈ 8 % faster).
ISA_EXTRA = {"kalman": ("-funroll-loops",), "imm": ("-funroll-loops",),
             "scan": ("-funroll-loops",)}
if platform.machine().lower() in ("x86_64", "amd64"):
    extensions += [_extension(pyx, ("-mavx2",) + ISA_EXTRA.get(pyx.stem.removesuffix("_avx2"), ()))
                   for pyx in sorted((HERE / "ext" / "isa").glob("*_avx2.pyx"))
                   if not ONLY or pyx.stem.removesuffix("_avx2") in ONLY]

# Both steps run on every core (XBAND_BUILD_JOBS=N caps them): Cython's translation in a
# process pool, the C compiles in build_ext's threads. The 20 modules build about twice as
# fast on a 2-core machine as one at a time.
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))          # the CPUs this process may use
    except AttributeError:                           # not Linux
        return os.cpu_count() or 1


JOBS = max(1, int(os.environ.get("XBAND_BUILD_JOBS") or _cores()))


class build_ext(_build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = JOBS


# Guarded: Cython's process pool re-imports this file in its workers where processes
# are not forked (macOS, Python 3.14's fork server); pip and `python setup.py` both run
# it as __main__.
if __name__ == "__main__":
    setup(
        cmdclass={"build_ext": build_ext},
        ext_modules=cythonize(
            extensions, compiler_directives=DIRECTIVES, include_path=["ext"], quiet=True,
            nthreads=JOBS if JOBS > 1 else 0,
        ),
    )

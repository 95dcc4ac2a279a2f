# ext/pulse.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# in which the C block guarded by __AVX__ switches on explicit vector code for gate_dft's
# four-pulse multiply-add (xb_cmac4_vec), the scalar loop's operations in the same order:
# the same functions and the same bits (no FMA without -mfma; checked by
# tests/detect/test_kernel_twins.py and test_simd_paths.py); xband._kernels loads it
# instead of xband._ext.pulse when the CPU has AVX2 (XBAND_ISA=baseline turns that off).
include "pulse.pyx"

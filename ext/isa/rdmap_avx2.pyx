# ext/rdmap.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# in which the C block guarded by __AVX2__ switches on explicit vector code for the
# matched-filter row (xb_mul_row) and the square law (xb_sq_row), the scalar loops'
# float32 operations in the same order: the same functions and the same bits (no FMA
# contraction without -mfma; checked by tests/detect/test_kernel_twins.py and
# test_simd_paths.py); xband._kernels loads it instead of xband._ext.rdmap when the CPU
# has AVX2 (XBAND_ISA=baseline turns that off).
include "rdmap.pyx"

# ext/rdmap.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# so the same functions and the same bits (no FMA contraction without -mfma; checked by
# tests/detect/test_kernel_twins.py); xband._kernels loads it instead of xband._ext.rdmap
# when the CPU has AVX2 (XBAND_ISA=baseline turns that off).
include "rdmap.pyx"

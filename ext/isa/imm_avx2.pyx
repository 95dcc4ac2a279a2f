# ext/imm.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# so the same functions and the same bits (no FMA contraction without -mfma; checked by
# tests/kernels/test_kalman_soa.py); xband._kernels loads it instead of xband._ext.imm
# when the CPU has AVX2 (XBAND_ISA=baseline turns that off). It pays through the
# four-track structure-of-arrays blocks, which only AVX builds take (XB_SOA, _kalman.pxi);
# setup.py adds -funroll-loops for them.
include "imm.pyx"

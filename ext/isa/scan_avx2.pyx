# ext/scan.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# so the same functions and the same bits (no FMA contraction without -mfma; checked by
# tests/kernels/test_kalman_soa.py and tests/track/test_scan.py); xband._kernels loads it
# instead of xband._ext.scan when the CPU has AVX2 (XBAND_ISA=baseline turns that off).
# It pays through the IMM prediction's four-track structure-of-arrays blocks
# (_imm_mix_predict in ext/_imm.pxi, taken in AVX builds only: XB_SOA, ext/_kalman.pxi).
include "scan.pyx"

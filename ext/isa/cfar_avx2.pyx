# ext/cfar.pyx compiled a second time with -mavx2 (setup.py, x86-64 only): the same source,
# in which the C blocks guarded by __AVX__ switch on explicit vector code (the CA pass with
# its four range segments as vector lanes, xb_ca_lanes; the Doppler box-sum update,
# xb_update_ca) doing the scalar loops' operations in the same order: the same functions
# and the same bits (no FMA contraction without -mfma; checked by
# tests/detect/test_kernel_twins.py and test_simd_paths.py); xband._kernels loads it
# instead of xband._ext.cfar when the CPU has AVX2 (XBAND_ISA=baseline turns that off).
include "cfar.pyx"

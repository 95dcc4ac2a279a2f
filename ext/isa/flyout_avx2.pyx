# The flyout stepper compiled a second time with -mavx2 (setup.py, x86-64 only): the same
# source, so the same functions and, as measured, the same bits; xband._kernels loads it
# instead of xband._ext.flyout when the CPU has AVX2 (XBAND_ISA=baseline turns that off).
include "flyout.pyx"

"""Numpy twins of the compiled kernels in ext/: same names, signatures and output semantics.

Each module is the readable specification of its kernel: equations beside the lines,
shapes and units in the docstrings, the literature cited. Tests compare the twins on random
and edge-case inputs.
"""

# Fused numeric types, defined once for every kernel.
ctypedef fused real_t:
    float
    double

ctypedef fused cplx_t:
    float complex
    double complex

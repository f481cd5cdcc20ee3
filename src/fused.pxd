# Fused types shared by every kernel: one source, several specialisations.

ctypedef fused floating:
    float
    double

# Everything scipy.signal / scipy.ndimage filter: integers of every width, floats, complex.
ctypedef fused numeric:
    signed char
    unsigned char
    short
    unsigned short
    int
    unsigned int
    long long
    unsigned long long
    float
    double
    float complex
    double complex

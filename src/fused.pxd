# The one type hierarchy of the compiled core (as scikit-image's _shared/fused_numerics.pxd): a
# kernel takes the narrowest of these that covers its dtypes, and tests a specialisation with
# `if T is float` or `if T in complexing`. Where a whole function must exist once per dtype, a
# Tempita template generates it instead (see setup.py's render_templates).

ctypedef fused floating:
    float
    double

ctypedef fused complexing:
    float complex
    double complex

ctypedef fused signed_integer:
    signed char
    short
    int
    long long

ctypedef fused unsigned_integer:
    unsigned char
    unsigned short
    unsigned int
    unsigned long long

ctypedef fused integer:
    signed_integer
    unsigned_integer

# The types whose arithmetic is defined when it overflows (unsigned integers wrap around modulo
# 2**bits; floats and complex round). A kernel over signed integers runs them in the unsigned type
# of their width, which gives bit for bit the wrapped signed result without C's undefined
# behaviour of signed overflow.
ctypedef fused modular:
    unsigned_integer
    floating
    complexing

# Everything scipy.signal / scipy.ndimage filter: integers of every width, floats, complex.
ctypedef fused numeric:
    integer
    floating
    complexing

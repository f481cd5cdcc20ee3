# Edge rules shared by the filtering kernels (direct, lines): the one table of their codes. The
# Python layer maps the string options of scipy.signal (boundary) and scipy.ndimage (mode) to these
# codes (convcore/_modes.py imports them from the compiled convcore._kernels.modes, which exports
# this cpdef enum as the IntEnum `Mode`); kernels switch on ints.
#   CONSTANT  ... c c | a b c d | c c ...   signal 'fill',  ndimage 'constant' / 'grid-constant'
#   REFLECT   ... b a | a b c d | d c ...   signal 'symm',  ndimage 'reflect' / 'grid-mirror'
#   MIRROR    ... c b | a b c d | c b ...                   ndimage 'mirror'
#   NEAREST   ... a a | a b c d | d d ...                   ndimage 'nearest'
#   WRAP      ... c d | a b c d | a b ...   signal 'wrap',  ndimage 'wrap' / 'grid-wrap'

cpdef enum Mode:
    MODE_CONSTANT = 0
    MODE_REFLECT = 1
    MODE_MIRROR = 2
    MODE_NEAREST = 3
    MODE_WRAP = 4


cdef inline Py_ssize_t map_index(Py_ssize_t i, Py_ssize_t n, int mode) noexcept nogil:
    """Index in [0, n) that position i (any integer) reads under `mode`; -1 means the constant."""
    cdef Py_ssize_t period
    if 0 <= i < n:
        return i
    if mode == MODE_CONSTANT:
        return -1
    if mode == MODE_NEAREST:
        return 0 if i < 0 else n - 1
    if mode == MODE_WRAP:
        i = i % n
        return i + n if i < 0 else i
    if mode == MODE_REFLECT:
        period = 2 * n
        i = i % period
        if i < 0:
            i += period
        return i if i < n else period - 1 - i
    # MODE_MIRROR: period 2n - 2, a single sample mirrors onto itself
    if n == 1:
        return 0
    period = 2 * n - 2
    i = i % period
    if i < 0:
        i += period
    return i if i < n else period - i

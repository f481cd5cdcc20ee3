"""The x86 instruction sets this CPU has, as the compiler's runtime sees them (baseline code only)."""

cdef extern from "c/cpu_id.h":
    int cc_cpu_has(int which) noexcept nogil


def cpu_features():
    """The dispatched instruction sets this CPU has: a tuple out of ("AVX2", "AVX512F").

    AVX2 counts only together with FMA (the kernels' AVX2 copies may use both).
    """
    return tuple(name for i, name in enumerate(("AVX2", "AVX512F")) if cc_cpu_has(i))

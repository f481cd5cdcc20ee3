"""The x86 instruction sets this CPU has, as the compiler's runtime sees them (baseline code only)."""

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int cc_cpu_has(int which) {
        __builtin_cpu_init();
        switch (which) {
        case 0: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case 1: return __builtin_cpu_supports("avx512f");
        default: return 0;
        }
    }
    #else
    static int cc_cpu_has(int which) { return 0; }
    #endif
    """
    int cc_cpu_has(int which) noexcept nogil


def cpu_features():
    """The dispatched instruction sets this CPU has: a tuple out of ("AVX2", "AVX512F").

    AVX2 counts only together with FMA (the kernels' AVX2 copies may use both).
    """
    return tuple(name for i, name in enumerate(("AVX2", "AVX512F")) if cc_cpu_has(i))

/* Which dispatched x86 instruction sets this CPU has, as the compiler's runtime detects them
   (cpuid and the OS's saved-state bits behind __builtin_cpu_supports). Compiled into baseline
   code only, so asking never runs an instruction the CPU lacks. Elsewhere: none. */
#ifndef CONVCORE_CPU_ID_H
#define CONVCORE_CPU_ID_H

enum { CC_CPU_AVX2_FMA = 0, CC_CPU_AVX512F = 1 };

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static int cc_cpu_has(int which) {
    __builtin_cpu_init();
    switch (which) {
    case CC_CPU_AVX2_FMA: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CC_CPU_AVX512F: return __builtin_cpu_supports("avx512f");
    default: return 0;
    }
}
#else
static int cc_cpu_has(int which) { (void)which; return 0; }
#endif
#endif

/* Which copy of the direct kernel's row passes runs: the baseline one, or the one compiled for
   AVX2+FMA (GCC/Clang on x86), chosen once at import from the CPU and from
   CONVCORE_DISABLE_CPU_FEATURES (convcore._cpu decides, then calls set_cpu_features). Wheels are
   built for the baseline, so the wider copy sits beside it in the same module and each pass picks
   one per call (a predictable branch, negligible against a row).

   Used by direct_rows.h, direct_pairs.h and direct_nan.h, which define every pass twice:
   NAME_base and NAME_avx2 (the latter a second baseline copy where there is no x86 dispatch). */
#ifndef CONVCORE_DIRECT_SIMD_H
#define CONVCORE_DIRECT_SIMD_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define CC_X86_DISPATCH 1
#define CC_AVX2 __attribute__((target("avx2,fma")))
#else
#define CC_X86_DISPATCH 0
#define CC_AVX2
#endif

static int cc_use_avx2 = 0;

/* allowed: 0 when CONVCORE_DISABLE_CPU_FEATURES names AVX2 */
static void cc_simd_init(int allowed) {
#if CC_X86_DISPATCH
    __builtin_cpu_init();
    cc_use_avx2 = allowed && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    (void)allowed;
    cc_use_avx2 = 0;
#endif
}

#endif

/* How the line kernels' C functions are declared (src/c/line_*.h, window_sums.h, trunc_check.h,
   box8.h).

   CL_KERNEL: a function the compiler keeps on its own, never inlined into its Cython caller, as
   the kernels were when they were static functions of one module (declared `static inline` and
   inlined into the fused Cython helpers, the long-kernel passes measured slower: 129 taps about
   20%). Marked unused so that a module need not call every function of a header (no warning).
   Small helpers are plain `static inline`. */
#ifndef CONVCORE_CL_KERNEL_H
#define CONVCORE_CL_KERNEL_H
#if defined(__GNUC__) || defined(__clang__)
#define CL_KERNEL static __attribute__((noinline, unused))
#elif defined(_MSC_VER)
#define CL_KERNEL static __declspec(noinline)
#else
#define CL_KERNEL static inline
#endif
#endif

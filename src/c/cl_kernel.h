/* How the line kernels' C functions are declared (src/c/line_*.h, window_sums.h, trunc_check.h,
   box8.h).

   CL_KERNEL: a function the compiler keeps on its own, never inlined into its Cython caller.
   Compiled alone, the loops over its restrict pointers vectorise as they are; inlined into a
   caller, the compiler lost that and versioned the loops on alias checks (a 129-tap pass ran 20%
   slower). Marked unused so that a module need not call every function of a header (no warning).
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

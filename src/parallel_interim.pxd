# INTERIM (until the runner API lands in integ): run_batches on the module's own cc_pool.h.
cdef extern from "c/cc_pool.h":
    ctypedef void (*batch_fn "cc_batch_fn")(void* ctx, Py_ssize_t lo, Py_ssize_t hi,
                                             int tid) noexcept nogil
    int cc_parallel(batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                    int threads) noexcept nogil

cdef inline int run_batches(batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                            int threads) noexcept nogil:
    if cc_parallel(fn, ctx, n, batch, threads) <= 1:
        fn(ctx, 0, n, 0)
    return 1

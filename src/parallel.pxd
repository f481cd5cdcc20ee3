# The one parallel runner (why and how: src/c/parallel.h and src/c/cc_pool.h). A kernel module
# cimports it and calls import_parallel() once at module level:
#
#     from parallel cimport batch_fn, run_batches, import_parallel
#     import_parallel()
#
# then runs `run_batches(fn, &ctx, n, batch, threads)` with the GIL released; `threads` comes
# from convcore._threads (every thread count is decided there).
cdef extern from "c/parallel.h":
    ctypedef void (*batch_fn "cc_batch_fn")(void* ctx, Py_ssize_t lo, Py_ssize_t hi,
                                             int tid) noexcept nogil
    int run_batches(batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                    int threads) noexcept nogil
    Py_ssize_t batch_size "cc_batch_size"(Py_ssize_t n, int threads, int per_thread,
                                          Py_ssize_t least) noexcept nogil
    int import_parallel "cc_import_pool"() except -1

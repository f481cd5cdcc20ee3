# Work items over a batch of N images, run on the pool (parallel.pxd); shared by im2col and
# winograd. Item k is ``images`` images, or with n_chunks > 0 the k-th of n_chunks fixed parts of
# the batch taken ``images`` at a time, in order: a gradient's partial sums, whose parts depend on
# the shapes only, never on the thread count, so their sum has the same bits on any number of
# threads.

from parallel cimport run_batches

# A kernel's step: images n .. n + nb - 1 of work item ``item`` (work: the thread's scratch).
ctypedef void (*step_float)(const void *job, float *out, float *work, Py_ssize_t item,
                            Py_ssize_t n, Py_ssize_t nb) noexcept nogil
ctypedef void (*step_double)(const void *job, double *out, double *work, Py_ssize_t item,
                             Py_ssize_t n, Py_ssize_t nb) noexcept nogil


cdef struct ImageItems:
    bint f64                # the dtype: which of the two steps runs
    step_float run_float    # the kernel's step, both specialisations of one fused function
    step_double run_double
    const void *job         # the kernel's own arguments
    void *out
    void *work              # one row of work_ld values per thread
    Py_ssize_t work_ld, N, images, n_chunks


cdef inline void image_batches(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    """The pool's entry (a batch_fn): work items lo..hi of the ImageItems at ctx."""
    cdef const ImageItems *it = <const ImageItems *> ctx
    cdef Py_ssize_t item, n, n1, nb
    for item in range(lo, hi):
        if it.n_chunks > 0:
            n = item * it.N // it.n_chunks
            n1 = (item + 1) * it.N // it.n_chunks
        else:
            n = item * it.images
            n1 = n + it.images if n + it.images < it.N else it.N
        while n < n1:
            nb = it.images if n1 - n > it.images else n1 - n
            if it.f64:
                it.run_double(it.job, <double *> it.out, <double *> it.work + tid * it.work_ld,
                              item, n, nb)
            else:
                it.run_float(it.job, <float *> it.out, <float *> it.work + tid * it.work_ld,
                             item, n, nb)
            n += nb


cdef inline int run_images(step_float run_float, step_double run_double, bint f64,
                           const void *job, void *out, void *work, Py_ssize_t work_ld,
                           Py_ssize_t N, Py_ssize_t images, Py_ssize_t n_chunks,
                           int threads) noexcept nogil:
    """Run a kernel's step (its float and double specialisations; f64 picks one) over the N
    images on up to ``threads`` threads; returns the threads used."""
    cdef ImageItems it
    it.f64, it.run_float, it.run_double, it.job = f64, run_float, run_double, job
    it.out, it.work, it.work_ld = out, work, work_ld
    it.N, it.images, it.n_chunks = N, images, n_chunks
    return run_batches(image_batches, &it, n_chunks if n_chunks > 0 else (N + images - 1) // images,
                       1, threads)

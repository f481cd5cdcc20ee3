# The batch function of a kernel module's jobs, written once: a module includes it
# (``include "batch.pxi"``) after defining
#
#     ctypedef struct Job     with the fields ``bint f64`` (the job's arrays hold doubles, else
#                             floats) and ``void* out`` (its output, or NULL)
#     cdef void _part(floating* out, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
#                     int tid) noexcept nogil      (items lo to hi of the job, on thread tid)
#
# and runs a job with ``run_batches(_batch, &job, n, batch, threads)``. The pool calls one C
# signature for every dtype; this is the one place where a job's dtype picks its code.

cdef void _batch(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef const Job* j = <const Job*>ctx
    if j.f64:
        _part(<double*>j.out, j, lo, hi, tid)
    else:
        _part(<float*>j.out, j, lo, hi, tid)

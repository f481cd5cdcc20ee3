"""The process's one pool of helper threads (src/c/cc_pool.h), published to the other kernel
modules as a capsule (src/c/parallel.h, declared in src/parallel.pxd).

- ``pool_built()``: True when the pool was compiled in (POSIX threads with GCC/Clang, or Win32
  threads on Windows; not ``CONVCORE_NO_POOL``); otherwise every kernel runs on its caller's
  thread.
- ``cover(hits, tids, batch, threads, nested)``: runs a job that counts each index it is given in
  ``hits`` and records the thread that ran it in ``tids``; with ``nested`` every batch runs its
  indices through a second run_batches. Returns the threads the job used. It lets the tests see
  the runner itself: each index exactly once, tids in range, nesting and concurrent callers safe.
"""
from cpython.pycapsule cimport PyCapsule_New

from parallel cimport run_batches

cdef extern from "c/cc_pool.h":
    ctypedef struct cc_pool_api:
        pass
    const char* CC_POOL_CAPSULE
    int CC_POOL
    const cc_pool_api cc_pool_impl
    const cc_pool_api* cc_pool

_pool_api = PyCapsule_New(<void*>&cc_pool_impl, CC_POOL_CAPSULE, NULL)
cc_pool = &cc_pool_impl  # this module runs its own jobs on the pool without the capsule


def pool_built():
    """True when the kernels run on the helper-thread pool (else on the caller's thread only)."""
    return bool(CC_POOL)


ctypedef struct Marks:
    long long* hits
    int* tids
    Py_ssize_t offset   # of this job's index 0 in hits and tids
    int threads
    bint nested
    bint bad_tid        # only ever set to True, by any thread


cdef void _mark(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef Marks* m = <Marks*>ctx
    cdef Marks inner
    cdef Py_ssize_t i
    if tid < 0 or tid >= m.threads:
        m.bad_tid = True
        return
    if m.nested:  # the batch as a job of its own, from inside a job
        inner = m[0]
        inner.offset = m.offset + lo
        inner.nested = False
        inner.bad_tid = False
        run_batches(_mark, &inner, hi - lo, 1, m.threads)
        if inner.bad_tid:
            m.bad_tid = True
        return
    for i in range(m.offset + lo, m.offset + hi):
        m.hits[i] += 1
        m.tids[i] = tid


def cover(long long[::1] hits, int[::1] tids, Py_ssize_t batch, int threads, bint nested=False):
    cdef Marks m
    cdef int used
    if tids.shape[0] != hits.shape[0]:
        raise ValueError("cover: hits and tids differ in length")
    m.hits = &hits[0] if hits.shape[0] else NULL
    m.tids = &tids[0] if tids.shape[0] else NULL
    m.offset = 0
    m.threads = max(threads, 1)
    m.nested = nested
    m.bad_tid = False
    with nogil:
        used = run_batches(_mark, &m, hits.shape[0], batch, threads)
    if m.bad_tid:
        raise AssertionError("cover: a batch ran with a thread id out of range")
    return used

/* The one parallel runner, as every kernel module sees it: run_batches() and the pointer to the
   process-wide pool it calls.

   The pool (src/c/cc_pool.h) must exist once per process, so its state lives in one module,
   convcore._kernels.parallel, which publishes its entry point in a capsule. Each kernel module
   fetches that capsule once, at import (cc_import_pool, called as ``import_parallel()`` at module
   level, as NumPy's import_array). A Cython cdef function shared through a .pxd would instead make
   every module import a top-level module named after the .pxd ("parallel"), which does not
   exist: our modules live in convcore._kernels. */
#ifndef CONVCORE_PARALLEL_H
#define CONVCORE_PARALLEL_H
#ifdef CC_POOL_WITHOUT_PYTHON  /* the pool's own C test, tests/c/pool_check.c: no Python */
#include <stddef.h>
typedef ptrdiff_t Py_ssize_t;
#else
#include <Python.h>
#endif

/* runs one batch [lo, hi) of a job; tid in [0, threads) selects the thread's scratch */
typedef void (*cc_batch_fn)(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid);

/* what the capsule holds; `version` grows if the entry point ever changes */
typedef struct {
    int version;
    int (*run)(cc_batch_fn fn, void *ctx, Py_ssize_t n, Py_ssize_t batch, int threads);
} cc_pool_api;

#define CC_POOL_MODULE "convcore._kernels.parallel"
#define CC_POOL_CAPSULE CC_POOL_MODULE "._pool_api"
#define CC_POOL_API_VERSION 1

/* this module's handle on the pool (NULL until cc_import_pool, or when the pool is absent) */
static const cc_pool_api *cc_pool = NULL;

#ifndef CC_POOL_WITHOUT_PYTHON
static int cc_import_pool(void) {
    /* PyCapsule_Import imports only the top-level package, then looks attributes up */
    PyObject *module = PyImport_ImportModule(CC_POOL_MODULE);
    const cc_pool_api *api;
    if (module == NULL) return -1;
    Py_DECREF(module);
    api = (const cc_pool_api *)PyCapsule_Import(CC_POOL_CAPSULE, 0);
    if (api == NULL) return -1;
    if (api->version != CC_POOL_API_VERSION) {
        PyErr_SetString(PyExc_ImportError, "convcore._kernels.parallel: pool API version mismatch");
        return -1;
    }
    cc_pool = api;
    return 0;
}
#endif

/* A batch size that gives each of `threads` threads about `per_thread` batches (a few per thread
   let the others take over the batches of a thread the machine preempted), and at least `least`
   items (a batch must pay for its claim). */
static inline Py_ssize_t cc_batch_size(Py_ssize_t n, int threads, int per_thread,
                                       Py_ssize_t least) {
    Py_ssize_t parts = (Py_ssize_t)(threads > 1 ? threads : 1) * (per_thread > 1 ? per_thread : 1);
    Py_ssize_t batch = (n + parts - 1) / parts;
    return batch > least ? batch : (least > 1 ? least : 1);
}

/* Run fn over [0, n) in batches [i*batch, min(n, (i+1)*batch)) on up to `threads` threads, the
   caller being thread 0, and return the number of threads used. Each batch runs exactly once
   and always the same batches, whatever the thread count, so a kernel that keeps one partial
   result per batch gives the same bits on any number of threads. When the pool cannot help
   (one thread asked, one batch, the pool busy with another caller or backing off on a busy
   machine) the caller runs every batch itself. */
static inline int run_batches(cc_batch_fn fn, void *ctx, Py_ssize_t n, Py_ssize_t batch,
                              int threads) {
    Py_ssize_t lo;
    if (n <= 0) return 1;
    if (batch < 1) batch = 1;
    if (threads > 1 && n > batch && cc_pool != NULL) {
        int used = cc_pool->run(fn, ctx, n, batch, threads);
        if (used > 1) return used;
    }
    for (lo = 0; lo < n; lo += batch) fn(ctx, lo, lo + batch < n ? lo + batch : n, 0);
    return 1;
}
#endif

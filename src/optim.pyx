"""Optimizer updates of one parameter array in one parallel pass (NumPy needs four to ten passes
and as many temporaries for the same arithmetic).

- ``sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first, n_threads)``:
  PyTorch's SGD: ``d = g + weight_decay * p``; with momentum ``buf = d`` at the ``first`` step,
  else ``buf = momentum * buf + (1 - dampening) * d``, then ``d = buf`` or, with ``nesterov``,
  ``d + momentum * buf``; ``p -= lr * d``. ``buf`` is unused without momentum.
- ``adam(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, n_threads)``: Adam
  with bias correction (``decoupled``: AdamW's ``p *= 1 - lr * weight_decay`` first, else the L2
  term ``g + weight_decay * p``).

- ``sgd_all(ps, gs, bufs, first, lr, ..., n_threads)`` and ``adam_all(ps, gs, ms, vs, steps, lr,
  ..., n_threads)``: ``sgd`` and ``adam`` of every parameter of a model in one parallel job
  (lists of 1-D arrays of one dtype; ``first`` and ``steps`` one entry per parameter), cut into
  blocks of at most ``BLOCK`` elements that the threads share: a ResNet has some sixty
  parameters, most too small to be worth a parallel region of their own.

Every element is computed alone, in the array's dtype, with the operations in the order of the
NumPy code they replace (one rounding each), so any thread count gives the same bits, and the
updates of all parameters at once the bits of their updates one by one.
"""
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memset

import numpy as np

from fused cimport floating
from parallel cimport import_parallel, run_batches

import_parallel()

cdef enum:
    BLOCK = 32768


cdef inline void _sgd_run(floating *p, const floating *g, floating *buf, Py_ssize_t i0,
                          Py_ssize_t i1, floating f_lr, floating f_mom, floating f_damp,
                          floating f_wd, bint momentum, bint decay, bint nesterov,
                          bint first) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d, b
    for i in range(i0, i1):
        d = g[i]
        if decay:
            d = d + f_wd * p[i]
        if momentum:
            if first:
                b = d
            else:
                b = f_mom * buf[i]
                b = b + f_damp * d
            buf[i] = b
            if nesterov:
                d = d + f_mom * b
            else:
                d = b
        p[i] = p[i] - f_lr * d


cdef inline void _adam_run(floating *p, const floating *g, floating *m, floating *v,
                           Py_ssize_t i0, Py_ssize_t i1, double lr, double beta1, double beta2,
                           double eps, double weight_decay, Py_ssize_t step,
                           bint decoupled) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating b1 = beta1, c1 = 1 - beta1, b2 = beta2, c2 = 1 - beta2
    cdef floating f_eps = eps, f_wd = weight_decay, f_decay = 1 - lr * weight_decay
    cdef floating rsq = 1 / sqrt(1 - beta2 ** step), f_lr = lr / (1 - beta1 ** step)
    cdef floating d, mi, vi, den
    for i in range(i0, i1):
        d = g[i]
        if weight_decay != 0:
            if decoupled:
                p[i] = p[i] * f_decay
            else:
                d = d + f_wd * p[i]
        mi = b1 * m[i]
        mi = mi + d * c1
        m[i] = mi
        vi = b2 * v[i]
        vi = vi + (d * d) * c2
        v[i] = vi
        den = sqrt(vi) * rsq
        den = den + f_eps
        p[i] = p[i] - (mi / den) * f_lr


cdef class _Blocks:
    """Every parameter's pointers (one C array per list of arrays) and the blocks of at most
    BLOCK elements that cut them: block b is elements start[b] on of parameter owner[b]."""
    cdef void **ptr[4]
    cdef Py_ssize_t *size
    cdef Py_ssize_t *owner
    cdef Py_ssize_t *start
    cdef Py_ssize_t n_blocks

    def __cinit__(self):
        cdef int j
        for j in range(4):
            self.ptr[j] = NULL
        self.size = self.owner = self.start = NULL
        self.n_blocks = 0

    def __dealloc__(self):
        cdef int j
        for j in range(4):
            free(self.ptr[j])
        free(self.size)
        free(self.owner)
        free(self.start)


cdef _Blocks _blocks(floating probe, list lists, str name):
    """The blocks of the parameters in lists[0], with the arrays of the other lists beside them
    (all 1-D, of `probe`'s dtype)."""
    cdef _Blocks blocks = _Blocks()
    cdef Py_ssize_t k, j, b = 0, n = len(lists[0]), count = 0
    cdef const floating[::1] arr  # lists[1] holds the gradients, which may be read-only
    cdef floating[::1] out
    for lst in lists:
        if len(lst) != n:
            raise ValueError(f"{name}: the lists of arrays differ in length")
    for j in range(len(lists)):
        blocks.ptr[j] = <void **> malloc(max(n, 1) * sizeof(void *))
    blocks.size = <Py_ssize_t *> malloc(max(n, 1) * sizeof(Py_ssize_t))
    for k in range(n):
        blocks.size[k] = len(lists[0][k])
        for j in range(len(lists)):
            if j == 1:
                arr = lists[j][k]
            else:
                arr = out = lists[j][k]
            if arr.shape[0] != blocks.size[k]:
                raise ValueError(f"{name}: array sizes do not agree")
            blocks.ptr[j][k] = <void *> &arr[0] if arr.shape[0] else NULL
        count += (blocks.size[k] + BLOCK - 1) // BLOCK
    blocks.owner = <Py_ssize_t *> malloc(max(count, 1) * sizeof(Py_ssize_t))
    blocks.start = <Py_ssize_t *> malloc(max(count, 1) * sizeof(Py_ssize_t))
    for k in range(n):
        for j in range(0, blocks.size[k], BLOCK):
            blocks.owner[b] = k
            blocks.start[b] = j
            b += 1
    blocks.n_blocks = count
    return blocks


ctypedef struct Job:
    bint f64, adam
    void *out                      # NULL: the blocks name their arrays
    void **ptr[4]                  # p, g and buf, or p, g, m and v, of every parameter
    const Py_ssize_t *size
    const Py_ssize_t *owner
    const Py_ssize_t *start
    const unsigned char *first     # SGD: momentum's first step, per parameter
    const Py_ssize_t *steps        # Adam: the step count, per parameter
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps
    bint nesterov, decoupled


cdef void _part(floating* out, const Job* j, Py_ssize_t b0, Py_ssize_t b1,
               int tid) noexcept nogil:
    """Blocks b0 to b1 of the job (`out`, NULL, only picks the dtype)."""
    cdef Py_ssize_t b, k, i0, i1
    for b in range(b0, b1):
        k = j.owner[b]
        i0 = j.start[b]
        i1 = min(j.size[k], i0 + BLOCK)
        if j.adam:
            _adam_run(<floating *> j.ptr[0][k], <const floating *> j.ptr[1][k],
                      <floating *> j.ptr[2][k], <floating *> j.ptr[3][k], i0, i1, j.lr, j.beta1,
                      j.beta2, j.eps, j.weight_decay, j.steps[k], j.decoupled)
        else:
            _sgd_run(<floating *> j.ptr[0][k], <const floating *> j.ptr[1][k],
                     <floating *> (j.ptr[2][k] if j.momentum != 0 else NULL), i0, i1,
                     <floating> j.lr, <floating> j.momentum, <floating> (1 - j.dampening),
                     <floating> j.weight_decay, j.momentum != 0, j.weight_decay != 0,
                     j.nesterov, j.first[k])


include "batch.pxi"


cdef void _run(Job* j, list lists, str name, int n_threads) except *:
    """Cut the arrays of `lists` (lists[0] the parameters, all one dtype) into blocks and run the
    job over them."""
    cdef _Blocks blocks
    cdef int i
    j.f64 = lists[0][0].dtype.itemsize == 8
    blocks = _blocks(<double> 0, lists, name) if j.f64 else _blocks(<float> 0, lists, name)
    for i in range(4):
        j.ptr[i] = blocks.ptr[i]
    j.size, j.owner, j.start = blocks.size, blocks.owner, blocks.start
    with nogil:
        run_batches(_batch, j, blocks.n_blocks, 1, n_threads)


def sgd_all(list ps, list gs, list bufs, const unsigned char[::1] first, double lr,
            double momentum, double dampening, double weight_decay, bint nesterov,
            int n_threads):
    cdef Job j
    if first.shape[0] != len(ps):
        raise ValueError("sgd_all: one first flag per parameter")
    if not ps:
        return
    memset(&j, 0, sizeof(Job))
    j.adam, j.first, j.lr, j.momentum, j.dampening = False, &first[0], lr, momentum, dampening
    j.weight_decay, j.nesterov = weight_decay, nesterov
    _run(&j, [ps, gs, bufs] if momentum != 0 else [ps, gs], "sgd_all", n_threads)


def adam_all(list ps, list gs, list ms, list vs, const Py_ssize_t[::1] steps, double lr,
             double beta1, double beta2, double eps, double weight_decay, bint decoupled,
             int n_threads):
    cdef Py_ssize_t k
    cdef Job j
    if steps.shape[0] != len(ps):
        raise ValueError("adam_all: one step count per parameter")
    for k in range(steps.shape[0]):
        if steps[k] < 1:
            raise ValueError("adam_all: step counts start at 1")
    if not ps:
        return
    memset(&j, 0, sizeof(Job))
    j.adam, j.steps, j.lr, j.beta1, j.beta2, j.eps = True, &steps[0], lr, beta1, beta2, eps
    j.weight_decay, j.decoupled = weight_decay, decoupled
    _run(&j, [ps, gs, ms, vs], "adam_all", n_threads)


def sgd(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr, double momentum,
        double dampening, double weight_decay, bint nesterov, bint first, int n_threads):
    """``sgd_all`` of one parameter."""
    if g.shape[0] != p.shape[0] or (momentum != 0 and buf.shape[0] != p.shape[0]):
        raise ValueError("sgd: array sizes do not agree")
    sgd_all([np.asarray(p)], [np.asarray(g)], [np.asarray(buf)] if momentum != 0 else [],
            np.array([first], dtype=np.uint8), lr, momentum, dampening, weight_decay, nesterov,
            n_threads)


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v, double lr,
         double beta1, double beta2, double eps, double weight_decay, Py_ssize_t step,
         bint decoupled, int n_threads):
    """``adam_all`` of one parameter."""
    if g.shape[0] != p.shape[0] or m.shape[0] != p.shape[0] or v.shape[0] != p.shape[0] \
            or step < 1:
        raise ValueError("adam: array sizes do not agree")
    adam_all([np.asarray(p)], [np.asarray(g)], [np.asarray(m)], [np.asarray(v)],
             np.array([step], dtype=np.intp), lr, beta1, beta2, eps, weight_decay, decoupled,
             n_threads)

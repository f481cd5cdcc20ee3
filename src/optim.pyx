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
  ..., n_threads)``: ``sgd`` and ``adam`` of every parameter of a model in one parallel region
  (lists of 1-D arrays of one dtype; ``first`` and ``steps`` one entry per parameter), cut into
  blocks of at most ``BLOCK`` elements that the threads share: a ResNet has some sixty
  parameters, most too small to be worth a parallel region of their own.

Every element is computed alone, in the array's dtype, with the operations in the order of the
NumPy code they replace (one rounding each), so any thread count gives the same bits, and the
updates of all parameters at once the bits of their updates one by one.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc

from fused cimport floating

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


def sgd(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr, double momentum,
        double dampening, double weight_decay, bint nesterov, bint first, int n_threads):
    cdef Py_ssize_t blk, n = p.shape[0]
    if g.shape[0] != n or (momentum != 0 and buf.shape[0] != n):
        raise ValueError("sgd: array sizes do not agree")
    if n == 0:
        return
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, num_threads=max(n_threads, 1),
                          schedule="static"):
            _sgd_run(&p[0], &g[0], &buf[0] if momentum != 0 else NULL, blk * BLOCK,
                     min(n, (blk + 1) * BLOCK), <floating> lr, <floating> momentum,
                     <floating> (1 - dampening), <floating> weight_decay, momentum != 0,
                     weight_decay != 0, nesterov, first)


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


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v, double lr,
         double beta1, double beta2, double eps, double weight_decay, Py_ssize_t step,
         bint decoupled, int n_threads):
    cdef Py_ssize_t blk, n = p.shape[0]
    if g.shape[0] != n or m.shape[0] != n or v.shape[0] != n or step < 1:
        raise ValueError("adam: array sizes do not agree")
    if n == 0:
        return
    with nogil:
        for blk in prange((n + BLOCK - 1) // BLOCK, num_threads=max(n_threads, 1),
                          schedule="static"):
            _adam_run(&p[0], &g[0], &m[0], &v[0], blk * BLOCK, min(n, (blk + 1) * BLOCK), lr,
                      beta1, beta2, eps, weight_decay, step, decoupled)


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
    cdef floating[::1] arr
    for lst in lists:
        if len(lst) != n:
            raise ValueError(f"{name}: the lists of arrays differ in length")
    for j in range(len(lists)):
        blocks.ptr[j] = <void **> malloc(max(n, 1) * sizeof(void *))
    blocks.size = <Py_ssize_t *> malloc(max(n, 1) * sizeof(Py_ssize_t))
    for k in range(n):
        blocks.size[k] = len(lists[0][k])
        for j in range(len(lists)):
            arr = lists[j][k]
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


def sgd_all(list ps, list gs, list bufs, const unsigned char[::1] first, double lr,
            double momentum, double dampening, double weight_decay, bint nesterov,
            int n_threads):
    if first.shape[0] != len(ps):
        raise ValueError("sgd_all: one first flag per parameter")
    if not ps:
        return
    lists = [ps, gs, bufs] if momentum != 0 else [ps, gs]
    if ps[0].dtype.itemsize == 4:
        _sgd_all(<float> 0, _blocks(<float> 0, lists, "sgd_all"), first, lr, momentum,
                 dampening, weight_decay, nesterov, n_threads)
    else:
        _sgd_all(<double> 0, _blocks(<double> 0, lists, "sgd_all"), first, lr, momentum,
                 dampening, weight_decay, nesterov, n_threads)


cdef void _sgd_all(floating probe, _Blocks blocks, const unsigned char[::1] first, double lr,
                   double momentum, double dampening, double weight_decay, bint nesterov,
                   int n_threads):
    cdef Py_ssize_t b, k
    with nogil:
        for b in prange(blocks.n_blocks, num_threads=max(n_threads, 1), schedule="static"):
            k = blocks.owner[b]
            _sgd_run(<floating *> blocks.ptr[0][k], <const floating *> blocks.ptr[1][k],
                     <floating *> (blocks.ptr[2][k] if momentum != 0 else NULL),
                     blocks.start[b], min(blocks.size[k], blocks.start[b] + BLOCK),
                     <floating> lr, <floating> momentum, <floating> (1 - dampening),
                     <floating> weight_decay, momentum != 0, weight_decay != 0, nesterov,
                     first[k])


def adam_all(list ps, list gs, list ms, list vs, const Py_ssize_t[::1] steps, double lr,
             double beta1, double beta2, double eps, double weight_decay, bint decoupled,
             int n_threads):
    cdef Py_ssize_t k
    if steps.shape[0] != len(ps):
        raise ValueError("adam_all: one step count per parameter")
    for k in range(steps.shape[0]):
        if steps[k] < 1:
            raise ValueError("adam_all: step counts start at 1")
    if not ps:
        return
    if ps[0].dtype.itemsize == 4:
        _adam_all(<float> 0, _blocks(<float> 0, [ps, gs, ms, vs], "adam_all"), steps, lr, beta1,
                  beta2, eps, weight_decay, decoupled, n_threads)
    else:
        _adam_all(<double> 0, _blocks(<double> 0, [ps, gs, ms, vs], "adam_all"), steps, lr,
                  beta1, beta2, eps, weight_decay, decoupled, n_threads)


cdef void _adam_all(floating probe, _Blocks blocks, const Py_ssize_t[::1] steps, double lr,
                    double beta1, double beta2, double eps, double weight_decay, bint decoupled,
                    int n_threads):
    cdef Py_ssize_t b, k
    with nogil:
        for b in prange(blocks.n_blocks, num_threads=max(n_threads, 1), schedule="static"):
            k = blocks.owner[b]
            _adam_run(<floating *> blocks.ptr[0][k], <const floating *> blocks.ptr[1][k],
                      <floating *> blocks.ptr[2][k], <floating *> blocks.ptr[3][k],
                      blocks.start[b], min(blocks.size[k], blocks.start[b] + BLOCK), lr, beta1,
                      beta2, eps, weight_decay, steps[k], decoupled)

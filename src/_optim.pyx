"""Optimizer updates of one parameter array in one parallel pass (NumPy needs four to ten passes
and as many temporaries for the same arithmetic).

- ``sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first, n_threads)``:
  PyTorch's SGD: ``d = g + weight_decay * p``; with momentum ``buf = d`` at the ``first`` step,
  else ``buf = momentum * buf + (1 - dampening) * d``, then ``d = buf`` or, with ``nesterov``,
  ``d + momentum * buf``; ``p -= lr * d``. ``buf`` is unused without momentum.
- ``adam(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled, n_threads)``: Adam
  with bias correction (``decoupled``: AdamW's ``p *= 1 - lr * weight_decay`` first, else the L2
  term ``g + weight_decay * p``).

Every element is computed alone, in the array's dtype, with the operations in the order of the
NumPy code they replace (one rounding each), so any thread count gives the same bits.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt

from _fused cimport floating


def sgd(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr, double momentum,
        double dampening, double weight_decay, bint nesterov, bint first, int n_threads):
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating f_lr = lr, f_mom = momentum, f_damp = 1 - dampening, f_wd = weight_decay
    cdef floating d, b
    if g.shape[0] != n or (momentum != 0 and buf.shape[0] != n):
        raise ValueError("sgd: array sizes do not agree")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            d = g[i]
            if weight_decay != 0:
                d = d + f_wd * p[i]
            if momentum != 0:
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


def adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v, double lr,
         double beta1, double beta2, double eps, double weight_decay, Py_ssize_t step,
         bint decoupled, int n_threads):
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating b1 = beta1, c1 = 1 - beta1, b2 = beta2, c2 = 1 - beta2
    cdef floating f_eps = eps, f_wd = weight_decay, f_decay = 1 - lr * weight_decay
    cdef floating rsq = 1 / sqrt(1 - beta2 ** step), f_lr = lr / (1 - beta1 ** step)
    cdef floating d, mi, vi, den
    if g.shape[0] != n or m.shape[0] != n or v.shape[0] != n or step < 1:
        raise ValueError("adam: array sizes do not agree")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
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

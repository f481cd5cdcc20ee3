"""Detect a separable (rank-1) filter and split it into one 1-D factor per axis.

A kernel ``w`` is separable when ``w = outer(v0, v1, ..., v_{n-1})``: box filters, Gaussians, Sobel
and Prewitt, the lecture's line filters. The rank check unfolds ``w`` as a matrix
``(K0, K1*...*K_{n-1})`` and takes the cross (pivot) factorisation through its largest entry
``p = M[i, j]``: ``M ~ outer(M[:, j], M[i, :] / p)``, exact for a rank-1 matrix. The residual of that
factorisation is measured, so a kernel is accepted only when the 1-D passes reproduce it to a few
units of rounding of its own dtype (float32 or float64); the rest of the kernel (the row) is split
the same way, axis by axis. It needs no SVD, hence no BLAS call whose threads could compete with the
OpenMP kernel that runs next. Only real float kernels are considered (never integers, whose results
must be exact).
"""
import numpy as np


def _rank_one_split(mat, eps):
    """(column, row) with ``mat == outer(column, row)`` to rounding `eps`, or None."""
    i, j = np.unravel_index(np.argmax(np.abs(mat)), mat.shape)
    pivot = mat[i, j]
    if pivot == 0:
        return None
    column, row = mat[:, j].copy(), mat[i, :] / pivot
    residual = np.max(np.abs(mat - np.outer(column, row)))
    if residual > abs(pivot) * 8 * max(mat.shape) * eps:
        return None
    return column, row


def separable_factors(w):
    """1-D factors ``[v0, v1, ...]`` (float64) whose outer product is `w`, or None.

    >>> import numpy as np
    >>> f = separable_factors(np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0]))
    >>> np.allclose(np.outer(*f), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    True
    >>> separable_factors(np.eye(3)) is None
    True
    """
    w = np.asarray(w)
    if w.dtype.kind != "f" or w.ndim < 2 or not np.all(np.isfinite(w)):
        return None
    eps = np.finfo(w.dtype).eps
    rest = w.astype(np.float64)
    factors = []
    for axis in range(w.ndim - 1):
        split = _rank_one_split(rest.reshape(rest.shape[0], -1), eps)
        if split is None:
            return None
        column, row = split
        factors.append(column)
        rest = row.reshape(w.shape[axis + 1:])
    factors.append(rest.reshape(-1))
    return factors

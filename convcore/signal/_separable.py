"""Detect a separable (rank-1) filter and split it into one 1-D factor per axis.

A kernel ``w`` is separable when ``w = outer(v0, v1, ..., v_{n-1})``: box filters, Gaussians, Sobel
and Prewitt, the lecture's line filters. Unfolding ``w`` as a matrix ``(K0, K1*...*K_{n-1})`` and
taking its SVD tells whether that matrix has rank 1 (second singular value negligible against the
first); if so its leading singular pair gives ``v0`` and the rest of the kernel, which is split the
same way, axis by axis. A cheap pivot test rejects most other kernels before any SVD. The
tolerance is a few units of rounding of the kernel's own dtype (float32 or float64), so the 1-D
passes give the direct result to that accuracy. Only real float kernels are considered (never
integers, whose results must be exact).
"""
import numpy as np


def _rank_one_split(mat, eps):
    """(column, row) with ``mat == outer(column, row)`` to rounding `eps`, or None."""
    # quick rejection, O(size): a rank-1 matrix equals the outer product of the row and the
    # column through its largest entry, divided by that entry
    i, j = np.unravel_index(np.argmax(np.abs(mat)), mat.shape)
    pivot = mat[i, j]
    if pivot == 0:
        return None
    guess = np.outer(mat[:, j], mat[i, :] / pivot)
    if np.max(np.abs(mat - guess)) > abs(pivot) * 1e3 * max(mat.shape) * eps:
        return None
    u, s, vt = np.linalg.svd(mat, full_matrices=False)
    if s[0] == 0 or not np.isfinite(s[0]):
        return None
    if len(s) > 1 and s[1] > s[0] * 8 * max(mat.shape) * eps:
        return None
    return u[:, 0] * s[0], vt[0]


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

"""The shallow engine: 1-D and 2-D ungrouped convolutions whose depth K = C_in * taps is small
(first layers), computed directly from a packed copy of each band of output rows
(src/shallow.pyx): each tap reads the packed band at one offset, so no im2col matrix is written
(64x1x28x28 by 32x1x5x5: K is 25, and a GEMM of depth 25 runs far below BLAS's speed)."""
import math

import numpy as np

from ..._threads import threads_for
from . import choice, kernels
from .plan import flat


def band_rows(c, threads):
    """Output rows per band: a packed band of at most about choice.SHALLOW_BAND_BYTES, and at
    least `threads` bands in the batch."""
    (_, oh, ow), (_, kh, kw), (_, sh, _), (_, dh, _) = (c.geometry[r] for r in (1, 2, 3, 5))
    extra = (kh - 1) * dh // sh
    per_row = c.x.shape[1] * sh * kw * ow * c.x.itemsize
    rows = max(1, choice.SHALLOW_BAND_BYTES // per_row - extra)
    rows = min(rows, -(-oh // -(-threads // c.x.shape[0])))
    return int(rows), int(extra)


def offsets(c, rows, extra):
    """Every tap's offset into a packed band of `rows` + `extra` rows: tap (ci, i, j) reads
    plane (ci, i*dh % sh, j) at row i*dh // sh (see src/c/shallow.h)."""
    (_, _, ow), (_, kh, kw), (_, sh, _), (_, dh, _) = (c.geometry[r] for r in (1, 2, 3, 5))
    pitch = (rows + extra) * ow
    i = np.arange(kh) * dh
    plane = ((np.arange(c.x.shape[1])[:, None, None] * sh + i[:, None] % sh) * kw
             + np.arange(kw)) * pitch
    return (plane + (i[:, None] // sh) * ow).reshape(-1).astype(np.intp), pitch


def forward(c, bias):
    c_out = c.weight.shape[0]
    ob = kernels.shallow.OB
    blocks = -(-c_out // ob)
    K = math.prod(c.weight.shape[1:])
    # wp[block, k, o]: the weights of output channel block * ob + o, zero past C_out
    wp = np.zeros((blocks * ob, K), dtype=c.dtype)
    wp[:c_out] = c.weight.reshape(c_out, K)
    wp = np.ascontiguousarray(wp.reshape(blocks, ob, K).transpose(0, 2, 1))
    b = np.zeros(blocks * ob, dtype=c.dtype)
    b[:c_out] = bias if bias.size else 0
    threads = threads_for(2 * math.prod(c.out_shape) * K, choice.GRAIN)
    rows, extra = band_rows(c, threads)
    off, pitch = offsets(c, rows, extra)
    planes = c.x.shape[1] * c.geometry[3, 1] * c.geometry[2, 2]
    y = np.empty(c.out_shape, dtype=c.dtype)
    work = np.empty((threads, planes * pitch + kernels.shallow.SLACK), dtype=c.dtype)
    kernels.shallow.forward(flat(c.x), wp, off, b, flat(y), c.geometry, rows, work, threads)
    return y

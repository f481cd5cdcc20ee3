"""The shallow engine: 1-D and 2-D ungrouped convolutions whose depth K = C_in * taps is small
(first layers), computed directly from a packed copy of each band of output rows
(src/shallow.pyx): each tap reads the packed band at one offset, so no im2col matrix is written
(64x1x28x28 by 32x1x5x5: K is 25, and a GEMM of depth 25 runs far below BLAS's speed). The weight
gradient reads the same packed bands: each band adds grad_output's rows times the band at every
tap's offset, with no im2col matrix written either."""
import functools
import math

import numpy as np

from ..._threads import threads_for
from .. import _scratch as scratch
from . import choice, kernels
from .plan import flat


def layout(c, threads):
    """(rows, off, work): output rows per band (a packed band of at most about
    choice.SHALLOW_BAND_BYTES, and at least `threads` bands in the batch), every tap's offset
    into a packed band, and the scratch values per thread."""
    return _layout(tuple(c.geometry[:, 1:].ravel().tolist()), c.x.shape[0], c.x.shape[1],
                   c.x.itemsize, threads, choice.SHALLOW_BAND_BYTES)


@functools.lru_cache(maxsize=256)
def _layout(geometry, batch, c_in, itemsize, threads, band_bytes):
    """The layout of a band for the geometry columns (H, W) `geometry` (flattened): tap (ci, i, j)
    reads plane (ci, i*dh % sh, j) at row i*dh // sh (see src/c/shallow.h)."""
    # rows of (H, W): input size, output size, kernel, stride, low padding, dilation
    (oh, ow), (kh, kw), sh, dh = geometry[2:4], geometry[4:6], geometry[6], geometry[10]
    extra = (kh - 1) * dh // sh  # input rows a band reads past its own (per phase)
    planes = c_in * sh * kw
    rows = max(1, band_bytes // (planes * ow * itemsize) - extra)
    rows = min(rows, -(-oh // -(-threads // batch)))
    pitch = (rows + extra) * ow
    i = np.arange(kh) * dh
    plane = ((np.arange(c_in)[:, None, None] * sh + i[:, None] % sh) * kw + np.arange(kw)) * pitch
    off = (plane + (i[:, None] // sh) * ow).reshape(-1).astype(np.intp)
    off.flags.writeable = False
    return rows, off, planes * pitch + kernels.shallow.SLACK


def forward(c, bias):
    c_out = c.weight.shape[0]
    threads = threads_for(math.prod(c.out_shape) * c.weight[0].size, choice.SHALLOW_GRAIN)
    rows, off, work = layout(c, threads)
    y = np.empty(c.out_shape, dtype=c.dtype)
    kernels.shallow.forward(flat(c.x), c.weight.reshape(c_out, -1), off, bias, flat(y),
                            c.geometry, rows, np.empty((threads, work), dtype=c.dtype), threads)
    return y


def weight_grad(c, gy):
    """The weight gradient from packed bands, summed in choice.SHALLOW_WEIGHT_CHUNKS chunks of
    bands whatever the thread count (the bands themselves laid out as for that many threads), so
    that it has the same bits on any number of threads."""
    c_out, K = c.weight.shape[0], math.prod(c.weight.shape[1:])
    rows, off, work = layout(c, choice.SHALLOW_WEIGHT_CHUNKS)
    bands = -(-int(c.geometry[1, 1]) // rows)
    items = c.x.shape[0] * bands
    chunk = -(-items // choice.SHALLOW_WEIGHT_CHUNKS)
    partial = scratch.zeros("shallow_partial", (-(-items // chunk), c_out, K), c.dtype)
    threads = threads_for(math.prod(c.out_shape) * K, choice.SHALLOW_GRAIN)
    group = max(1, min(chunk, kernels.shallow.WEIGHT_GROUP_MAX,
                       choice.SHALLOW_WEIGHT_GROUP_BYTES // (work * c.x.itemsize),
                       choice.SHALLOW_WEIGHT_GROUP_OUTPUTS // (rows * int(c.geometry[1, 2]))))
    work = kernels.shallow.weight_grad_work(c.geometry, c.x.shape[1], c_out, rows, chunk, group,
                                            c.x.itemsize)
    copy = K >= choice.SHALLOW_WEIGHT_COPY_MIN_K and group >= chunk
    kernels.shallow.weight_grad(flat(c.x), flat(gy), off, partial, c.geometry, rows,
                                scratch.empty("shallow", (threads, work), c.dtype), chunk, group,
                                copy, threads)
    return partial.sum(axis=0).reshape(c.weight.shape)

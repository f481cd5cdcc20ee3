"""The im2col engine: every other convolution, as im2col + GEMM over tiles of output positions
(several small images to one GEMM), and its gradients as GEMM + col2im (input) and
grad_output @ im2col^T (weight), by src/im2col.pyx."""
import math

import numpy as np

from .. import _scratch as scratch
from . import choice, kernels
from .plan import flat


def forward(c, bias):
    c_out, K = c.weight.shape[0], math.prod(c.weight.shape[1:])
    L = math.prod(c.out_spatial)
    y = np.empty(c.out_shape, dtype=c.dtype)
    tile = choice.tile(K, L, c_out // c.groups)
    # a 1x1 convolution's GEMM reads the input in place, unless joining images pays for the copy
    one_by_one = (c.geometry[2:5].tolist() == [[1] * 3, [1] * 3, [0] * 3]
                  and c.out_spatial == c.x.shape[2:])
    pointwise = one_by_one and not choice.join_pointwise(c)
    images = 1 if pointwise else choice.images_per_gemm(K, L, c.x.shape[0])
    w = c.weight.reshape(c_out, K)
    if bias.size and images == 1 and not one_by_one:  # (the kernel reads a 1x1 one's in place)
        # the bias as one more weight column, against a row of ones under the patches: the GEMM
        # writes y once (a fill of y with the bias first cost 18% of a 1-channel 5x5 layer)
        w, bias = np.concatenate([w, bias[:, None]], axis=1), bias[:0]
    work = w.shape[1] * (tile + kernels.im2col.COLS_PAD)
    if images > 1:
        work = max(work, (K + c_out // c.groups) * images * L)
    c.run(kernels.im2col.forward, flat(c.x), w, bias, flat(y), c.geometry, c.groups, tile, images,
          per_image=lambda t: (scratch.empty("im2col", (t, work), c.dtype),), images=images)
    return y


def _steps(c):
    """(K, tile, images per GEMM, scratch per thread) of the backward kernels."""
    c_out, K = c.weight.shape[0], math.prod(c.weight.shape[1:])
    L = math.prod(c.out_spatial)
    tile = choice.tile(K, L, c_out // c.groups)
    images = choice.images_per_gemm(K, L, c.x.shape[0])
    work = max(K * (tile + kernels.im2col.COLS_PAD), (K + c_out // c.groups) * images * L)
    return K, tile, images, lambda t: (scratch.empty("im2col", (t, work), c.dtype),)


def input_grad(c, gy):
    """col2im of w^T @ grad_output."""
    K, tile, images, per_thread = _steps(c)
    grad_x = np.empty(c.x.shape, dtype=c.dtype)
    c.run(kernels.im2col.backward_input, flat(gy), c.weight.reshape(c.weight.shape[0], K),
          flat(grad_x), c.geometry, c.groups, tile, per_image=per_thread, images=images,
          tail=(images,))
    return grad_x


def weight_grad(c, gy):
    """grad_output @ im2col^T. Images are summed in a fixed number of chunks, whatever the thread
    count, so that the gradient has the same bits on 1 or 2 threads; no more chunks than GEMMs
    of `images`."""
    K, tile, images, per_thread = _steps(c)
    chunks = min(choice.weight_chunks(c.x.shape[0], c.weight.nbytes), -(-c.x.shape[0] // images))
    partial = scratch.zeros("im2col_partial", (chunks, c.weight.shape[0], K), c.dtype)
    c.run(kernels.im2col.backward_weight, flat(gy), flat(c.x), partial, c.geometry, c.groups,
          tile, per_image=per_thread, tail=(images,))
    return partial.sum(axis=0).reshape(c.weight.shape)

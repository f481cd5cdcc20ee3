"""The small-map engine: a convolution over maps with fewer positions than the kernel has taps as
one dense matrix M (C_out * L_out, C_in * L_in), every image's outputs M @ its inputs
(src/smallmaps.pyx writes M from the weights and folds dM back onto the taps)."""
import functools

import numpy as np

from ..._threads import threads_for
from .._matmul import linear, linear_tap, matmul
from . import choice, kernels

# Multiply-adds per thread of the products: a convolution's GRAIN (2 operations each), not the
# dense layer's share, twice that: ResNet's 512 -> 512 3x3 layers on 1x1 maps (8.4 M) and its
# 256 -> 512 stride-2 layer on 2x2 maps (16.8 M, exactly the dense share: one thread) ran on one
# thread (us, min, batch 32, the one-position product alone: 364 on one thread, 216 on two).
_GRAIN = choice.GRAIN // 2


def taps(c):
    """The (L_out, L_in) table of the tap joining each output position of `c` to each input
    position (-1: none)."""
    return tap_table(tuple(map(tuple, c.geometry.T.tolist())))


@functools.lru_cache(maxsize=64)
def tap_table(axes):
    """The tap table for the geometry columns `axes` (per axis: size, output size, kernel,
    stride, low padding, dilation), axis by axis: flat tap and position indices are row-major."""
    table = np.zeros((1, 1), np.int64)
    for n, n_out, k, s, lo, d in axes:
        off = np.arange(n)[None, :] - np.arange(n_out)[:, None] * s + lo  # = tap * dilation
        t = np.where((off >= 0) & (off % d == 0) & (off < d * k), off // d, -1)
        a, b = table[:, None, :, None], t[None, :, None, :]
        table = np.where((a >= 0) & (b >= 0), a * k + b, -1).reshape(
            table.shape[0] * n_out, table.shape[1] * n)
    table.flags.writeable = False
    return table


def _dense_matrix(c, tap):
    """M (C_out * L_out, C_in * L_in): every image's outputs are M @ its inputs."""
    c_out, c_in = c.weight.shape[:2]
    m = np.empty((c_out * tap.shape[0], c_in * tap.shape[1]), dtype=c.dtype)
    kernels.smallmaps.expand(c.weight.reshape(c_out, c_in, -1), tap, m,
                             threads_for(m.size, choice.EXPAND_GRAIN))
    return m


def forward(c, bias):
    # y^T = M @ x^T, then one transposing copy: OpenBLAS runs the product with the big matrix
    # first about twice as fast as x @ M^T (one thread, float32, a batch of 32: 32x256x2x2 by
    # 256x256x3x3, 0.76 ms against 1.45; 32x256x2x2 by 512x256x3x3 stride 2, 0.39 against 0.71)
    yt = matmul(_dense_matrix(c, taps(c)), c.x.reshape(c.x.shape[0], -1), trans_b=True,
                grain=_GRAIN)
    y = np.ascontiguousarray(yt.T).reshape(c.out_shape)
    if bias.size:
        y += bias.reshape((-1,) + (1,) * c.nd)
    return y


def forward_one_position(c, bias):
    """One input and one output position per image: M is the weights' one tap that meets the
    input, and the images' outputs ``x @ M^T + bias`` are a dense layer's, read straight from x
    into y (no expansion, no transposing copy, no bias pass), the tap read from the weights in
    place (ResNet-34's five 512 -> 512 3x3 layers on 1x1 maps, batch 32: copying the centre tap
    out took 0.3-0.45 ms of a 0.6 ms call on one thread, the whole 9 MiB of weights passing
    through the cache for a ninth of them)."""
    tap = int(taps(c)[0, 0])
    c_out, c_in = c.weight.shape[:2]
    x = c.x.reshape(c.x.shape[0], c_in)
    b = bias if bias.size else None
    if tap < 0:  # (no tap meets the input: the bias alone)
        return linear(x, np.zeros((c_out, c_in), c.dtype), b, _GRAIN).reshape(c.out_shape)
    return linear_tap(x, c.weight.reshape(c_out, c_in, -1), tap, b,
                      _GRAIN).reshape(c.out_shape)


def backward(c, gy, need_input, need_weight):
    """(grad_x, grad_w) of `c` by its dense matrix M: grad_output @ M, and dM = grad_output^T @ x
    folded onto the taps (None where not asked)."""
    tap = taps(c)
    batch = c.x.shape[0]
    gy2 = gy.reshape(batch, -1)
    grad_x = grad_w = None
    if need_input:
        grad_x = matmul(gy2, _dense_matrix(c, tap), grain=_GRAIN).reshape(c.x.shape)
    if need_weight:
        dm = matmul(gy2, c.x.reshape(batch, -1), trans_a=True, grain=_GRAIN)
        grad_w = np.empty(c.weight.shape, dtype=c.dtype)
        kernels.smallmaps.fold(dm, tap, grad_w.reshape(c.weight.shape[0], c.weight.shape[1], -1),
                               threads_for(dm.size, choice.EXPAND_GRAIN))
    return grad_x, grad_w

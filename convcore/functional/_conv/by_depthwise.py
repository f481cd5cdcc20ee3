"""The depthwise engine: groups == C_in > 1 (one input channel per filter), each output plane made
directly from its input plane (src/depthwise.pyx); the im2col GEMM of such a group is
C_out/groups rows deep by the kernel's taps, far too small to pay (32x256x4x4, 3x3, one thread:
1.85 ms by im2col against 0.16 ms in PyTorch)."""
import math

import numpy as np

from ..._threads import threads_for
from . import choice, kernels
from .plan import flat


def _threads(c):
    return threads_for(2 * math.prod(c.out_shape) * math.prod(c.weight.shape[2:]),
                       choice.DEPTHWISE_GRAIN)


def forward(c, bias):
    c_out = c.weight.shape[0]
    y = np.empty(c.out_shape, dtype=c.dtype)
    kernels.depthwise.forward(flat(c.x), c.weight.reshape(c_out, -1), bias, flat(y), c.geometry,
                              c_out // c.groups, _threads(c))
    return y


def backward(c, gy, need_input, need_weight):
    """(grad_x, grad_w) of a depthwise convolution (None where not asked)."""
    c_out = c.weight.shape[0]
    multiplier = c_out // c.groups
    threads = _threads(c)
    grad_x = grad_w = None
    if need_input:
        grad_x = np.empty(c.x.shape, dtype=c.dtype)
        kernels.depthwise.backward_input(flat(gy), c.weight.reshape(c_out, -1), flat(grad_x),
                                         c.geometry, multiplier, threads)
    if need_weight:
        grad_w = np.empty((c_out, math.prod(c.weight.shape[2:])), dtype=c.dtype)
        kernels.depthwise.backward_weight(flat(gy), flat(c.x), grad_w, c.geometry, multiplier,
                                          threads)
        grad_w = grad_w.reshape(c.weight.shape)
    return grad_x, grad_w

"""The shifted-GEMM engine: convolutions over small maps between many channels, several images a
step laid out batch innermost, one GEMM per kernel tap and run of output positions
(src/shifted.pyx); both gradients the same way (the weight gradient summed in a fixed number of
chunks)."""
import numpy as np

from ..._threads import threads_for
from .. import _scratch as scratch
from . import choice, kernels
from .plan import flat


def _per_thread(c, images):
    """The scratch of one thread: `images` images of input and of output, batch innermost (the
    input by phase with a stride: ceil(n / stride) * stride places along each axis)."""
    n_in, stride = c.geometry[0], c.geometry[3]
    places = (-(-n_in // stride) * stride).prod()
    size = (c.x.shape[1] * places + c.weight.shape[0] * c.geometry[1].prod()) * images
    return lambda t: (scratch.empty("shifted", (t, int(size)), c.dtype),)


def _by_tap(weight):
    """(C_out, taps, C_in): the weight matrix of every kernel tap (``wt[:, t, :]``)."""
    c_out, c_in = weight.shape[:2]
    wt = scratch.empty("shifted_weights", (c_out, weight[0, 0].size, c_in), weight.dtype)
    kernels.shifted.by_tap(weight.reshape(c_out, c_in, -1), wt,
                           threads_for(weight.size, choice.EXPAND_GRAIN))
    return wt


def forward(c, bias, images):
    y = np.empty(c.out_shape, dtype=c.dtype)
    c.run(kernels.shifted.forward, flat(c.x), _by_tap(c.weight), bias, flat(y), c.geometry,
          images, per_image=_per_thread(c, images), images=images)
    return y


def input_grad(c, gy, images):
    grad_x = np.empty(c.x.shape, dtype=c.dtype)
    c.run(kernels.shifted.backward_input, flat(gy), _by_tap(c.weight), flat(grad_x), c.geometry,
          images, per_image=_per_thread(c, images), images=images)
    return grad_x


def weight_grad(c, gy, images):
    """The weight gradient, images summed `images` at a time in chunks fixed by the shapes (the
    same bits on any thread count)."""
    c_out, c_in = c.weight.shape[:2]
    taps = c.weight[0, 0].size
    chunks = min(choice.weight_chunks(c.x.shape[0], c.weight.nbytes), -(-c.x.shape[0] // images))
    partial = scratch.empty("shifted_partial", (chunks, c_out, taps, c_in), c.dtype)
    c.run(kernels.shifted.backward_weight, flat(gy), flat(c.x), partial, c.geometry, images,
          per_image=_per_thread(c, images))
    grad_w = np.empty(c.weight.shape, dtype=c.dtype)  # (a new array: never the scratch's)
    kernels.shifted.from_taps(partial, grad_w.reshape(c_out, c_in, taps),
                              threads_for(grad_w.size, choice.EXPAND_GRAIN))
    return grad_w

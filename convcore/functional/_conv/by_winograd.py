"""The Winograd engine: 3x3 stride-1 convolutions between many channels by F(2x2, 3x3), 4
multiply-adds where the GEMM has 9, after cheap transforms of 4x4 input patches and 2x2 output
blocks: 16 GEMMs per step (one per entry of the 4x4 transformed tile), over the 2x2 output tiles
of a few tile rows or of several whole small images (``choice`` sets the steps)."""
import math

import numpy as np

from ..._threads import blas_threads, threads_for
from .. import _scratch as scratch
from . import choice, kernels
from .plan import flat

# F(2x2, 3x3) weight transform G (4x3): U = G w G^T, i.e. U[r * 4 + s] = kron(G, G) @ w[i * 3 + j].
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_GG = np.kron(_G, _G)


def _weights(c, images, by_input=False):
    """U[xi, o, c] = (G w[o, c] G^T) flattened over its 4x4 entries xi, in the weight's dtype, by
    a direct kernel (one thread: 64 -> 64 channels 13 us, 512 -> 512 2.3 ms, against 58 us and
    4.3 ms for the GEMM with kron(G, G) of depth 9 it replaced); U[xi, c, o] with `by_input`.
    On the threads of the convolution that follows (`c`'s, in steps of `images` images) when it
    runs its steps on them: those are about to run anyway, and on one thread the transform of
    128 -> 128 channels took a sixth of a 2-thread forward of 32x128x4x4. Else (BLAS owns the
    threads) on threads of its own only when large."""
    weight = c.weight
    c_out, c_in = weight.shape[:2]
    shape = (16, c_in, c_out) if by_input else (16, c_out, c_in)
    u = scratch.empty("winograd_weights", shape, weight.dtype)
    threads, by_items = c.threads(images)
    kernels.winograd.transform_weights(np.ascontiguousarray(weight).reshape(c_out * c_in, 9),
                                       u.reshape(16, c_out * c_in), c_in if by_input else 1,
                                       threads if by_items
                                       else threads_for(c_out * c_in * 64, choice.GRAIN))
    return u


def _steps(c, tiles):
    """(tile rows per step, scratch values per thread) of the Winograd kernels for steps of about
    `tiles` tiles (whole rows of tiles, at least one)."""
    c_out, c_in = c.weight.shape[:2]
    tiles_w = (c.out_spatial[1] + 1) // 2
    tile_rows = max(1, min(tiles // tiles_w, (c.out_spatial[0] + 1) // 2))
    return tile_rows, (16 * (c_in + c_out) * tile_rows * tiles_w
                       + 32 * kernels.winograd.WINOGRAD_SKEW + 8 * tiles_w + 8)


def _image_steps(c, images, tiles):
    """(tile rows per step, scratch values per thread): whole images side by side when `images`
    > 1, else steps of about `tiles` tiles within an image."""
    if images == 1:
        return _steps(c, tiles)
    tile_rows, work = _steps(c, 1 << 62)
    c_out, c_in = c.weight.shape[:2]
    return tile_rows, work + 16 * (c_in + c_out) * (images - 1) * tile_rows * (
        (c.out_spatial[1] + 1) // 2)


def forward(c, bias, images):
    """The forward pass, `images` images per step (their input transformed channels innermost
    where ``choice.winograd_channels_inner`` says so)."""
    y = np.empty(c.out_shape, dtype=c.dtype)
    tile_rows, work = _image_steps(c, images, choice.winograd_forward_tiles(c))
    inner = choice.winograd_channels_inner(c, tile_rows)
    by_input = choice.winograd_by_input(c, tile_rows, images)
    if inner:  # an image laid out channels innermost and a row of zeros
        work += (math.prod(c.x.shape[2:]) + 1) * c.x.shape[1]
    c.run(kernels.winograd.forward_winograd, flat(c.x), _weights(c, images, by_input), bias,
          flat(y), c.geometry, tile_rows, images, inner, by_input, images=images,
          per_image=lambda t: (scratch.empty("winograd", (t, work), c.dtype),))
    return y


def weight_grad(c, gy, chunks, images):
    """The weight gradient G^T dU G from its Winograd-domain sums dU (16, C_out, C_in), summed in
    `chunks` partial sums of steps of `images` images (their input transformed channels innermost
    where ``choice.winograd_channels_inner`` says so)."""
    c_out, c_in = c.weight.shape[:2]
    tile_rows, work = _image_steps(c, images, choice.WINOGRAD_TILES)
    inner = choice.winograd_channels_inner(c, tile_rows)
    if inner:
        work += (math.prod(c.x.shape[2:]) + 1) * c.x.shape[1]
    partial = scratch.zeros("winograd_partial", (chunks, 16, c_out, c_in), c.dtype)
    c.run(kernels.winograd.backward_weight_winograd, flat(gy), flat(c.x), partial, c.geometry,
          tile_rows, images, per_image=lambda t: (scratch.empty("winograd", (t, work), c.dtype),),
          tail=(inner,))
    gu = scratch.sum_chunks(partial).reshape(16, c_out * c_in)
    gg = _GG.astype(c.dtype)  # the adjoint of the weight transform: kron(G, G)^T
    with blas_threads(1):
        return (gu.T @ gg).reshape(c.weight.shape)

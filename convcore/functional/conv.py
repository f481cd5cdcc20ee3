"""N-D convolution (cross-correlation, as in deep learning) and its gradients, im2col + GEMM
(3x3 stride-1 layers between many channels by Winograd F(2x2, 3x3): 4 multiply-adds where the
GEMM has 9, after cheap transforms of 4x4 input patches and 2x2 output blocks).

``y[n, o, p] = bias[o] + sum_{c, t} weight[o, c, t] * x_padded[n, g(o) * C_in/groups + c, p * stride + t * dilation]``
— the lecture's ``C[m, n] = sum_i sum_j h[i, j] A[m + i, n + j]`` with channels, batch, stride,
padding, dilation and groups. Inputs are channels-first ``(N, C_in, *spatial)`` (or unbatched
``(C_in, *spatial)``) and weights ``(C_out, C_in / groups, *kernel)``, PyTorch's layout, so weights
move between the two unchanged.
"""
import copy
import functools
import math

import numpy as np

from .._kernels import depthwise as _depthwise, smallmaps as _smallmaps
from .._cpu import load
from .._dask import dask_aware
from .._threads import blas_threads, threads_for
from .._validation import as_float_array, as_int, as_tuple
from ._matmul import matmul

kernels = load("im2col")  # the widest build this CPU may run (convcore._cpu)

__all__ = ["conv1d", "conv2d", "conv3d", "conv1d_backward", "conv2d_backward", "conv3d_backward"]


def _padding(padding, nd, kernel, stride, dilation):
    """Return the (low, high) zero padding of every spatial axis."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in total]  # an odd total puts the extra one high
        raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == nd and all(
            isinstance(p, (tuple, list)) for p in padding):
        pairs = []
        for p in padding:
            if len(p) != 2:
                raise ValueError(f"padding must hold (low, high) pairs, got {padding!r}")
            pairs.append(tuple(as_int(v, "padding", 0) for v in p))
        return pairs
    return [(p, p) for p in as_tuple(padding, nd, "padding", min_value=0)]


class _Conv:
    """The checked arguments of one convolution: arrays in their working dtype and geometry."""

    def __init__(self, x, weight, stride, padding, dilation, groups, nd, x_name="x"):
        x = np.asarray(x)
        if x.ndim not in (nd + 1, nd + 2):
            raise ValueError(f"{x_name} must be {nd + 2}-D (N, C_in, *spatial) or {nd + 1}-D "
                             f"(C_in, *spatial) for conv{nd}d, got shape {x.shape}")
        weight = np.asarray(weight)
        if weight.ndim != nd + 2:
            raise ValueError(f"weight must be {nd + 2}-D (C_out, C_in/groups, *kernel) for "
                             f"conv{nd}d, got shape {weight.shape}")
        for name, arr in ((x_name, x), ("weight", weight)):
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        # float32 / float64 keep their dtype, integers and bools count as float64 (the contract)
        self.dtype = np.result_type(*(a.dtype if a.dtype.kind == "f" else np.float64
                                      for a in (x, weight)))
        self.batched = x.ndim == nd + 2
        self.x = as_float_array(x if self.batched else x[np.newaxis], x_name, dtype=self.dtype)
        self.weight = as_float_array(weight, "weight", dtype=self.dtype)
        self.groups = as_int(groups, "groups", 1)
        c_in, c_out = self.x.shape[1], weight.shape[0]
        if c_out % self.groups:
            raise ValueError(f"groups={self.groups} must divide the output channels {c_out}")
        if c_in != weight.shape[1] * self.groups:
            raise ValueError(f"x has {c_in} channels but weight expects {weight.shape[1]} x "
                             f"groups={self.groups} = {weight.shape[1] * self.groups}")
        kernel = weight.shape[2:]
        self.stride = as_tuple(stride, nd, "stride")
        self.dilation = as_tuple(dilation, nd, "dilation")
        pads = _padding(padding, nd, kernel, self.stride, self.dilation)
        spatial = self.x.shape[2:]
        out = []
        for n, k, s, d, (lo, hi) in zip(spatial, kernel, self.stride, self.dilation, pads):
            span = d * (k - 1) + 1
            if n + lo + hi < span:
                raise ValueError(f"kernel {tuple(kernel)} (dilation {self.dilation}) is larger than "
                                 f"the padded input {tuple(spatial)} (padding {pads})")
            out.append((n + lo + hi - span) // s + 1)
        self.out_spatial = tuple(out)
        self.pads = pads
        lead = 3 - nd  # 1-D and 2-D run as 3-D with singleton leading axes
        rows = (spatial, out, kernel, self.stride, [lo for lo, _ in pads], self.dilation)
        fill = (1, 1, 1, 1, 0, 1)
        self.geometry = np.array([(f,) * lead + tuple(r) for r, f in zip(rows, fill)], np.int64)
        self.nd = nd

    @property
    def out_shape(self):
        return (self.x.shape[0], self.weight.shape[0]) + self.out_spatial

    def unbatch(self, y):
        return y if self.batched else y[0]

    def run(self, kernel, *arrays, per_image, images=1, tail=()):
        """Call a kernel either with one work item (`images` images) per thread (BLAS held to one
        thread) or, when there are fewer items than threads, item by item with BLAS owning the
        threads. `per_image(threads)` returns the arguments that follow `arrays` and depend on the
        thread count (scratch arrays); `tail` follows the thread count."""
        flops = 2 * math.prod(self.out_shape) * math.prod(self.weight.shape[1:])
        n_threads = threads_for(flops, _GRAIN)
        if -(-self.x.shape[0] // images) >= n_threads > 1:
            with blas_threads(1):
                return kernel(*arrays, *per_image(n_threads), n_threads, *tail)
        with blas_threads(n_threads):
            return kernel(*arrays, *per_image(1), 1, *tail)


# Multiply-adds a thread should have before a second one is worth waking (a small layer's whole
# run is shorter than waking a thread, and on a busy machine than a scheduler time slice).
_GRAIN = 1 << 24


def _flat(a):
    return a.reshape(a.shape[0], a.shape[1], -1)


# OpenBLAS multiplies small matrices (M * N * K up to about 1e6) by a kernel that reads them in
# place, without packing; a shallow layer's tile of up to that size runs by it.
_SMALL_GEMM = 1_000_000


def _tile(K, L, rows=0):
    """Output positions per im2col tile, for GEMMs of `rows` (C_out per group) x tile x K (+1 for
    a bias column). Measured on AVX-512 with OpenBLAS: for a deep K (many channels x taps) sgemm
    wants wider tiles (512 columns: K x 512 values, about the size of L2); for a shallow K (first
    layers) 256 columns, or as many as keep the GEMM small (one thread, float32, 64x1x28x28 by
    32x1x5x5: weight gradient 63 GFLOP/s in 256-column tiles, 71 in one of 784; 32x3x32x32 by
    32x3x5x5: forward 77 with 256 or 384 columns, 50 with 512)."""
    if K >= 256:
        return min(512, L)
    return min(max(256, _SMALL_GEMM // max(1, rows * (K + 1))), L)


def _images_per_gemm(K, L, batch):
    """Images whose im2col columns go into one GEMM. A GEMM over the few output positions of a
    small image (a deep layer of a network on 32x32 inputs has 1 to 64) runs below speed; several
    images fill it to about `_tile` columns. Images of `_tile` columns or more go alone: the copy
    of the shared product back to each image then costs more than it saves (one thread, float32:
    64x1x28x28 by 32x1x5x5, 5 images per GEMM, 46 GFLOP/s against 65 alone; 64x3x28x28 by
    16x3x5x5, 37 against 57; 32x512x4x4 by 512x512x3x3, 16 images, 85 against 70). At most half
    the batch, so that two threads share it; the count depends on the shapes only, never on the
    thread count."""
    return max(1, min(_tile(K, 1 << 30, 1 << 30) // L, (batch + 1) // 2))


# Channels (in and out) from which a 3x3 stride-1 convolution runs by Winograd F(2x2, 3x3): its 16
# GEMMs have C_in as their depth and C_out rows; with fewer channels the transforms cost more than
# the multiplications they save. Measured (one thread, float32, 16 images of 32x32, forward /
# weight gradient GFLOP/s, Winograd against im2col): 8 -> 8 channels 55/54 against 44/45, 8 -> 32
# 100/92 against 80/53, 32 -> 8 72/73 against 25/25; 4 -> 16 56/55 against 58/60, 3 -> 64 70/53
# against 82/51.
_MIN_CHANNELS_WINOGRAD = 8
# Rows of 2x2 output tiles per Winograd step: at most about this many tiles (the weight gradient's
# steps; its GEMMs sum over the tiles, and wider ones did a little better).
_WINOGRAD_TILES = 256

# F(2x2, 3x3) weight transform G (4x3): U = G w G^T, i.e. U[r * 4 + s] = kron(G, G) @ w[i * 3 + j].
_WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_WINOGRAD_GG = np.kron(_WINOGRAD_G, _WINOGRAD_G)
# Winograd runs a step of 16 GEMMs per image whose width is the image's 2x2 tiles; their 16
# transformed weight matrices are read again for every image. With few tiles (a deep layer on a
# small image) that traffic costs more than the multiplications saved once the 16 matrices no
# longer stay in cache. Measured (one thread, float32, forward / weight gradient GFLOP/s, Winograd
# against im2col, with the vectorised transforms): 8x512x7x7 (16 tiles, 16 MiB of transformed
# weights) 60/73 against 86/77, 32x512x4x4 (4 tiles) 34/59 against 80/69, 8x512x10x10 (25 tiles)
# 93/113 against 86/88; 16x448x8x8 (16 tiles, 12 MiB) 118/139 against 89/85; 32x384x4x4 (9 MiB)
# 122/71 against 83/59; 32x128x4x4 103/60 against 64/56; 32x64x4x4 66/49 against 47/42; one tile
# (2x2 maps) 49/13 against 67/26 at 256 channels.
_MIN_WINOGRAD_TILES = 4
_WINOGRAD_CACHED_BYTES = 14 << 20
_MIN_WINOGRAD_TILES_UNCACHED = 25
# The weight gradient's GEMMs sum over a step's tiles: with few they are too shallow (32x256x4x4,
# 4 tiles a step: 41 GFLOP/s against 59 by im2col; 32x64x8x8, 16 tiles: 83 against 59).
_MIN_WINOGRAD_TILES_WEIGHT_GRAD = 16


def _use_winograd(c, images=1):
    """A 2-D, ungrouped 3x3 convolution with stride 1 and no dilation between enough channels,
    with enough output tiles per image (per step of `images` images) for the transformed
    weights' traffic to pay."""
    c_out, c_in = c.weight.shape[:2]
    if not (c.nd == 2 and c.groups == 1 and c.weight.shape[2:] == (3, 3)
            and c.stride == (1, 1) and c.dilation == (1, 1)
            and min(c_in, c_out) >= _MIN_CHANNELS_WINOGRAD):
        return False
    tiles = ((c.out_spatial[0] + 1) // 2) * ((c.out_spatial[1] + 1) // 2)
    cached = 16 * c_in * c_out * c.weight.itemsize <= _WINOGRAD_CACHED_BYTES
    return tiles >= _MIN_WINOGRAD_TILES and (
        cached or tiles * images >= _MIN_WINOGRAD_TILES_UNCACHED)


def _winograd_forward_images(c):
    """Images per step of the Winograd forward, or 0 when it does not apply. An image with fewer
    tiles than a step holds (`_winograd_forward_tiles`) shares its step with others, so that the
    16 transformed weight matrices are read once for several images (at most half the batch, so
    that two threads share it; shapes only, never the thread count)."""
    if c.nd != 2:
        return 0
    tiles = ((c.out_spatial[0] + 1) // 2) * ((c.out_spatial[1] + 1) // 2)
    step = min(_winograd_forward_tiles(c), _WINOGRAD_IMAGES_TILES)
    images = _even_steps(c.x.shape[0], max(1, min(step // tiles, (c.x.shape[0] + 1) // 2)))
    return images if _use_winograd(c, images) else 0


def _even_steps(batch, images):
    """At most `images` images per step, so that the batch falls into an even number of steps of
    about equal size (two threads then finish together: 12+12+8 images in three steps keep one
    thread 20 images long, the other 12; four steps of 8 do not)."""
    if images <= 1:
        return images
    steps = -(-batch // images)
    images = -(-batch // (steps + steps % 2))
    while images > 1 and -(-batch // images) % 2:
        images -= 1
    return images


# Tiles per step at most when whole small images share a step: one thread, float32, batch 32,
# 3x3 'same' (ms, steps of 64-128 tiles against 48): 128 channels on 4x4 maps 1.99 against 1.54,
# on 6x6 3.39 against 2.74; 64 on 8x8 1.48 against 1.38; 8x128x8x8 1.45 against 1.21.
_WINOGRAD_IMAGES_TILES = 48


def _winograd_weights(weight):
    """U[xi, o, c] = (G w[o, c] G^T) flattened over its 4x4 entries xi, in the weight's dtype:
    one GEMM of kron(G, G) (16 x 9) with the 3x3 kernels as columns."""
    c_out, c_in = weight.shape[:2]
    gg = _WINOGRAD_GG.astype(weight.dtype)
    with blas_threads(1):  # NumPy's BLAS: a woken second thread then spins against the kernels
        return (gg @ weight.reshape(c_out * c_in, 9).T).reshape(16, c_out, c_in)


# Forward (and input-gradient) steps hold 16 * (C_in + C_out) values per tile (the transformed
# input and the products), kept within about L2: one thread, float32, 8x128x28x28 ran 186 GFLOP/s
# with 56 tiles per step (0.9 MiB) against 153 with 84 to 256; 8x64x56x56 174 with 112 tiles (0.9
# MiB) against 133 with 256; below 64 tiles the GEMMs get too narrow (8x256x14x14: 126 with 28).
_WINOGRAD_STEP_BYTES = 1 << 20


def _winograd_forward_tiles(c):
    """Tiles per step of the forward kernel: ~_WINOGRAD_STEP_BYTES of scratch, 64 to
    _WINOGRAD_TILES tiles."""
    c_out, c_in = c.weight.shape[:2]
    fit = _WINOGRAD_STEP_BYTES // (16 * (c_in + c_out) * c.weight.itemsize)
    return min(_WINOGRAD_TILES, max(64, fit))


def _winograd_steps(c, tiles):
    """(tile rows per step, scratch values per thread) of the Winograd kernels for steps of about
    `tiles` tiles (whole rows of tiles, at least one)."""
    c_out, c_in = c.weight.shape[:2]
    tiles_w = (c.out_spatial[1] + 1) // 2
    tile_rows = max(1, min(tiles // tiles_w, (c.out_spatial[0] + 1) // 2))
    return tile_rows, (16 * (c_in + c_out) * tile_rows * tiles_w + 32 * kernels.WINOGRAD_SKEW
                       + 8 * tiles_w + 8)


def _winograd_image_steps(c, images, tiles):
    """(tile rows per step, scratch values per thread): whole images side by side when `images`
    > 1, else steps of about `tiles` tiles within an image."""
    if images == 1:
        return _winograd_steps(c, tiles)
    tile_rows, work = _winograd_steps(c, 1 << 62)
    c_out, c_in = c.weight.shape[:2]
    return tile_rows, work + 16 * (c_in + c_out) * (images - 1) * tile_rows * (
        (c.out_spatial[1] + 1) // 2)


def _forward_winograd(c, bias, images):
    y = np.empty(c.out_shape, dtype=c.dtype)
    tile_rows, work = _winograd_image_steps(c, images, _winograd_forward_tiles(c))
    c.run(kernels.forward_winograd, _flat(c.x), _winograd_weights(c.weight), bias, _flat(y),
          c.geometry, tile_rows, images, per_image=lambda t: (np.empty((t, work), dtype=c.dtype),),
          images=images)
    return y


def _weight_grad_winograd_plan(c):
    """(chunks, images per step) of the Winograd weight gradient, or None where im2col does
    better: small images go several to a step (up to _WINOGRAD_TILES tiles, within a chunk), and
    a step needs _MIN_WINOGRAD_TILES_WEIGHT_GRAD tiles (its GEMMs sum over them)."""
    if c.nd != 2:
        return None
    c_out, c_in = c.weight.shape[:2]
    chunks = _weight_chunks(c.x.shape[0], 16 * c_out * c_in * c.weight.itemsize)
    tiles = ((c.out_spatial[0] + 1) // 2) * ((c.out_spatial[1] + 1) // 2)
    images = max(1, min(_WINOGRAD_TILES // tiles, c.x.shape[0] // chunks))
    if tiles * images < _MIN_WINOGRAD_TILES_WEIGHT_GRAD or not _use_winograd(c, images):
        return None
    return chunks, images


def _weight_grad_winograd(c, gy, chunks, images):
    """The weight gradient G^T dU G from its Winograd-domain sums dU (16, C_out, C_in)."""
    c_out, c_in = c.weight.shape[:2]
    tile_rows, work = _winograd_image_steps(c, images, _WINOGRAD_TILES)
    partial = np.zeros((chunks, 16, c_out, c_in), dtype=c.dtype)
    c.run(kernels.backward_weight_winograd, _flat(gy), _flat(c.x), partial, c.geometry, tile_rows,
          images, per_image=lambda t: (np.empty((t, work), dtype=c.dtype),))
    gu = partial.sum(axis=0).reshape(16, c_out * c_in)
    gg = _WINOGRAD_GG.astype(c.dtype)  # the adjoint of the weight transform: kron(G, G)^T
    with blas_threads(1):
        return (gu.T @ gg).reshape(c.weight.shape)


def _trim_taps(c):
    """`c` without the kernel taps that meet only zero padding, or `c` itself when every tap
    reaches the input. A 3x3 'same' convolution of a 1x1 feature map (the last stage of a network
    on 32x32 images) is its centre tap: a 1x1 convolution with a ninth of the work. Exact: the
    dropped taps only ever multiply zeros. Along each axis, tap t reads input t * dilation - low
    + o * stride for the outputs o; the taps kept run from the first to the last that lands on
    the input for some o."""
    if c.stride == (1,) * c.nd and all(
            n >= d * (k - 1) + 1
            for n, k, d in zip(c.x.shape[2:], c.weight.shape[2:], c.dilation)):
        return c  # stride 1 over an input as wide as the kernel's span: taps 0 and k-1 both reach it
    lead = 3 - c.nd
    g = c.geometry
    keep = []
    for a in range(lead, 3):
        n, n_out, k, s, lo, d = (int(v) for v in g[:, a])
        used = []
        for t in range(k):
            first = max(0, lo - t * d)  # o * s must lie in [first, last]
            last = min((n_out - 1) * s, n - 1 + lo - t * d)
            if first <= last and -(-first // s) * s <= last:
                used.append(t)
        if not used:  # no tap ever reaches the input (a strided axis all in the padding)
            return c
        keep.append((used[0], used[-1] + 1))
    if all(t1 - t0 == k for (t0, t1), k in zip(keep, c.weight.shape[2:])):
        return c
    trimmed = copy.copy(c)
    trimmed.taps = (Ellipsis,) + tuple(slice(t0, t1) for t0, t1 in keep)  # of the full weight
    trimmed.weight = np.ascontiguousarray(c.weight[trimmed.taps])
    trimmed.geometry = g.copy()
    for a, (t0, t1) in zip(range(lead, 3), keep):
        trimmed.geometry[2, a] = t1 - t0
        trimmed.geometry[4, a] -= t0 * g[5, a]
    # the padding that gives the same outputs with the kept taps (negative where the kept taps
    # never reach the input's first or last element)
    trimmed.pads = [(lo, (n_out - 1) * s + d * (k - 1) + 1 - n - lo)
                    for n, n_out, k, s, lo, d in zip(*trimmed.geometry[:, lead:].tolist())]
    return trimmed


def _small_map_taps(c):
    """The (L_out, L_in) table of the tap joining each output position to each input position
    (-1: none) when `c` runs as one dense matrix (src/_smallmaps.pyx), else None: ungrouped, with
    input maps of at most half as many positions as the kernel has taps, where im2col would
    multiply mostly padding (a 3x3 layer on 1x1 maps too: its matrix holds the centre taps, and
    its weight gradient comes out whole, the other taps zero, in the same pass) (one thread, float32, 32x256x2x2 by 256x256x3x3, on a busy machine:
    forward 2.5 ms by im2col against 2.0, input gradient 2.9 against 1.6, weight gradient 2.6
    against 1.7)."""
    if c.groups != 1 or 2 * math.prod(c.x.shape[2:]) > math.prod(c.weight.shape[2:]):
        return None
    return _tap_table(tuple(map(tuple, c.geometry.T.tolist())))


@functools.lru_cache(maxsize=64)
def _tap_table(axes):
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


# Matrix entries per thread from which the dense matrix is written on every thread.
_EXPAND_GRAIN = 1 << 18


def _dense_matrix(c, tap):
    """M (C_out * L_out, C_in * L_in): every image's outputs are M @ its inputs."""
    c_out, c_in = c.weight.shape[:2]
    m = np.empty((c_out * tap.shape[0], c_in * tap.shape[1]), dtype=c.dtype)
    _smallmaps.expand(c.weight.reshape(c_out, c_in, -1), tap, m,
                      threads_for(m.size, _EXPAND_GRAIN))
    return m


def _forward_small_maps(c, bias, tap):
    # y^T = M @ x^T, then one transposing copy: OpenBLAS runs the product with the big matrix
    # first about twice as fast as x @ M^T (one thread, float32, a batch of 32: 32x256x2x2 by
    # 256x256x3x3, 0.76 ms against 1.45; 32x256x2x2 by 512x256x3x3 stride 2, 0.39 against 0.71)
    yt = matmul(_dense_matrix(c, tap), c.x.reshape(c.x.shape[0], -1), trans_b=True)
    y = np.ascontiguousarray(yt.T).reshape(c.out_shape)
    if bias.size:
        y += bias.reshape((-1,) + (1,) * c.nd)
    return y


def _backward_small_maps(c, gy, tap, need_input, need_weight):
    """(grad_x, grad_w) of `c` by its dense matrix M: grad_output @ M, and dM = grad_output^T @ x
    folded onto the taps (None where not asked)."""
    batch = c.x.shape[0]
    gy2 = gy.reshape(batch, -1)
    grad_x = grad_w = None
    if need_input:
        grad_x = matmul(gy2, _dense_matrix(c, tap)).reshape(c.x.shape)
    if need_weight:
        dm = matmul(gy2, c.x.reshape(batch, -1), trans_a=True)
        grad_w = np.empty(c.weight.shape, dtype=c.dtype)
        _smallmaps.fold(dm, tap, grad_w.reshape(c.weight.shape[0], c.weight.shape[1], -1),
                        threads_for(dm.size, _EXPAND_GRAIN))
    return grad_x, grad_w


def _forward_depthwise(c, bias):
    """groups == C_in > 1 (one input channel per filter): each output plane made directly from its
    input plane (src/_depthwise.pyx); the im2col GEMM of such a group is C_out/groups rows deep
    by the kernel's taps, far too small to pay (32x256x4x4, 3x3, one thread: 1.85 ms by im2col
    against 0.16 ms in PyTorch)."""
    c_out = c.weight.shape[0]
    y = np.empty(c.out_shape, dtype=c.dtype)
    flops = 2 * math.prod(c.out_shape) * math.prod(c.weight.shape[2:])
    _depthwise.forward(_flat(c.x), c.weight.reshape(c_out, -1), bias, _flat(y), c.geometry,
                       c_out // c.groups, threads_for(flops, _GRAIN))
    return y


_DEPTHWISE_WEIGHT_GRAD_MAX_WIDTH = 32


def _depthwise_backward(c, gy, need_input, need_weight):
    """(grad_x, grad_w) of a depthwise convolution by src/_depthwise.pyx (None where not asked)."""
    c_out = c.weight.shape[0]
    multiplier = c_out // c.groups
    threads = threads_for(2 * math.prod(c.out_shape) * math.prod(c.weight.shape[2:]), _GRAIN)
    grad_x = grad_w = None
    if need_input:
        grad_x = np.empty(c.x.shape, dtype=c.dtype)
        _depthwise.backward_input(_flat(gy), c.weight.reshape(c_out, -1), _flat(grad_x),
                                  c.geometry, multiplier, threads)
        grad_x = c.unbatch(grad_x)
    if need_weight:
        grad_w = np.empty((c_out, math.prod(c.weight.shape[2:])), dtype=c.dtype)
        _depthwise.backward_weight(_flat(gy), _flat(c.x), grad_w, c.geometry, multiplier,
                                   threads)
        grad_w = grad_w.reshape(c.weight.shape)
    return grad_x, grad_w


def _forward(c, bias):
    """Run the forward kernel for the checked arguments `c`; `bias` (C_out,) or empty."""
    tap = _small_map_taps(c)
    if tap is not None:
        return _forward_small_maps(c, bias, tap)
    c = _trim_taps(c)
    if c.groups > 1 and c.weight.shape[1] == 1:
        return _forward_depthwise(c, bias)
    images = _winograd_forward_images(c)
    if images:
        return _forward_winograd(c, bias, images)
    c_out, K = c.weight.shape[0], math.prod(c.weight.shape[1:])
    L = math.prod(c.out_spatial)
    y = np.empty(c.out_shape, dtype=c.dtype)
    tile = _tile(K, L, c_out // c.groups)
    # a 1x1 convolution's GEMM reads the input in place; joining images would copy it
    pointwise = (c.geometry[2:5].tolist() == [[1] * 3, [1] * 3, [0] * 3]
                 and c.out_spatial == c.x.shape[2:])
    images = 1 if pointwise else _images_per_gemm(K, L, c.x.shape[0])
    w = c.weight.reshape(c_out, K)
    if bias.size and images == 1 and not pointwise:
        # the bias as one more weight column, against a row of ones under the patches: the GEMM
        # writes y once (a fill of y with the bias first cost 18% of a 1-channel 5x5 layer)
        w, bias = np.concatenate([w, bias[:, None]], axis=1), bias[:0]
    work = w.shape[1] * (tile + kernels.COLS_PAD)
    if images > 1:
        work = max(work, (K + c_out // c.groups) * images * L)
    c.run(kernels.forward, _flat(c.x), w, bias, _flat(y), c.geometry, c.groups, tile, images,
          per_image=lambda t: (np.empty((t, work), dtype=c.dtype),), images=images)
    return y


def _conv(x, weight, bias, stride, padding, dilation, groups, nd):
    c = _Conv(x, weight, stride, padding, dilation, groups, nd)
    c_out = c.weight.shape[0]
    if bias is None:
        b = np.empty(0, dtype=c.dtype)
    else:
        b = np.asarray(bias)
        if b.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},), got {b.shape}")
        b = as_float_array(b, "bias", dtype=c.dtype)
    return c.unbatch(_forward(c, b))


# Partial weight gradients summed apart (and then added in order): at most one per image, at
# most _WEIGHT_CHUNKS, and no more than fit in _WEIGHT_CHUNK_BYTES (but at least 2, so that two
# threads share a large layer). The count never depends on the thread count.
_WEIGHT_CHUNKS = 8
_WEIGHT_CHUNK_BYTES = 32 * 1024 * 1024


def _weight_chunks(batch, weight_bytes):
    return min(batch, _WEIGHT_CHUNKS, max(2, _WEIGHT_CHUNK_BYTES // weight_bytes))

# Input channels per group from which the stride-1 input gradient runs as a convolution (its GEMM
# has this many rows; with fewer, GEMM + col2im is faster), or with fewer when that convolution
# runs by Winograd (one thread, float32, 16x8x32x32 by 8x8x3x3: 50 GFLOP/s against 36 by col2im;
# 12 -> 16 channels 82 against 54; with 4 input channels, im2col, 31 against 71).
_MIN_CHANNELS_BY_CONV = 16


def _input_grad_by_conv(c, gy, winograd_only=False):
    """With stride 1, the input gradient is itself a convolution: grad_output, zero padded by
    dilation * (k - 1) - padding on each side, correlated with the flipped weights whose input and
    output channels are swapped within each group. That turns col2im's scatter into im2col + GEMM
    over the deep K = C_out/groups * taps, or into a Winograd convolution. None when some padding
    exceeds dilation * (k - 1), or with `winograd_only` when that convolution would not run by
    Winograd."""
    kernel = c.weight.shape[2:]
    if math.prod(kernel) == 1 and math.prod(c.out_spatial) == 1:
        # a 1x1 kernel on 1x1 maps (a 3x3 layer of the last stage on 32x32 inputs, trimmed to its
        # centre tap): copying the flipped weights costs as much as the product itself, which the
        # GEMM with the weights transposed does in place (32x512x1x1 by 512x512, one thread:
        # 0.55 ms against 1.0; on 2x2 maps and wider the copy pays, 0.27 against 0.39)
        return None
    pads = []
    for k, d, (lo, hi) in zip(kernel, c.dilation, c.pads):
        span = d * (k - 1)
        if not 0 <= lo <= span or not 0 <= hi <= span:
            return None
        pads.append((span - lo, span - hi))
    g, c_out, cg = c.groups, c.weight.shape[0], c.weight.shape[1]
    w = c.weight.reshape((g, c_out // g, cg) + kernel).swapaxes(1, 2)
    w = w[(Ellipsis,) + (slice(None, None, -1),) * c.nd].reshape((g * cg, c_out // g) + kernel)
    t = _Conv(gy, w, 1, pads, c.dilation, g, c.nd, x_name="grad_output")
    if winograd_only and not _winograd_forward_images(_trim_taps(t)):
        return None
    return _forward(t, np.empty(0, dtype=c.dtype))


def _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                   need_weight, need_bias, nd):
    c = _Conv(x, weight, stride, padding, dilation, groups, nd)
    gy = np.asarray(grad_output)
    if gy.dtype.kind not in "biuf":
        raise TypeError(f"grad_output must hold real numbers, got dtype {gy.dtype}")
    if not c.batched:
        gy = gy[np.newaxis]
    if gy.shape != c.out_shape:
        expected = c.out_shape if c.batched else c.out_shape[1:]
        raise ValueError(f"grad_output must have the output's shape {expected}, got "
                         f"{np.shape(grad_output)}")
    gy = as_float_array(gy, "grad_output", dtype=c.dtype)
    grad_x = grad_w = grad_b = None
    if need_bias:
        grad_b = _flat(gy).sum(axis=(0, 2))
    if c.groups > 1 and c.weight.shape[1] == 1:  # depthwise: the direct kernels
        # (the weight gradient of wide outputs goes faster by im2col + GEMM: 8x64x56x56, 3x3, one
        # thread, 3.4 ms against 4.8; 32x256x4x4: 2.3 against 1.1)
        direct_weight = need_weight and c.out_spatial[-1] <= _DEPTHWISE_WEIGHT_GRAD_MAX_WIDTH
        grad_x, grad_w = _depthwise_backward(c, gy, need_input, direct_weight)
        need_input, need_weight = False, need_weight and not direct_weight
    # the taps that meet only zero padding get a zero weight gradient and give no input gradient:
    # the kernels run without them
    t = _trim_taps(c)
    tap = _small_map_taps(c) if need_input or need_weight else None
    if tap is not None:  # (the untrimmed taps: the weight gradient comes out whole)
        grad_x, grad_w = _backward_small_maps(c, gy, tap, need_input, need_weight)
        t = c
    else:
        if need_input and all(s == 1 for s in c.stride):
            grad_x = _input_grad_by_conv(
                t, gy, winograd_only=t.weight.shape[1] < _MIN_CHANNELS_BY_CONV)
            need_input = grad_x is None
        if need_input or need_weight:
            grad_x, grad_w = _im2col_backward(t, gy, need_input, need_weight, grad_x, grad_w)
    if need_weight and t is not c:
        full = np.zeros(c.weight.shape, dtype=c.dtype)
        full[t.taps] = grad_w
        grad_w = full
    if grad_x is not None:
        grad_x = c.unbatch(grad_x)
    return grad_x, grad_w, grad_b


def _im2col_backward(c, gy, need_input, need_weight, grad_x, grad_w):
    """The input gradient (col2im of w^T @ grad_output) and the weight gradient (Winograd, or
    grad_output @ im2col^T), where asked; small maps put several images into one GEMM."""
    c_out, K = c.weight.shape[0], math.prod(c.weight.shape[1:])
    L = math.prod(c.out_spatial)
    tile = _tile(K, L, c_out // c.groups)
    images = _images_per_gemm(K, L, c.x.shape[0])
    work = max(K * (tile + kernels.COLS_PAD), (K + c_out // c.groups) * images * L)
    per_thread = lambda t: (np.empty((t, work), dtype=c.dtype),)  # noqa: E731
    if need_input:
        grad_x = np.empty(c.x.shape, dtype=c.dtype)
        c.run(kernels.backward_input, _flat(gy), c.weight.reshape(c_out, K), _flat(grad_x),
              c.geometry, c.groups, tile, per_image=per_thread, images=images, tail=(images,))
    plan = _weight_grad_winograd_plan(c) if need_weight else None
    if plan is not None:
        grad_w = _weight_grad_winograd(c, gy, *plan)
    elif need_weight:
        # Images are summed in a fixed number of chunks, whatever the thread count, so that the
        # gradient has the same bits on 1 or 2 threads; no more chunks than GEMMs of `images`.
        chunks = min(_weight_chunks(c.x.shape[0], c.weight.nbytes), -(-c.x.shape[0] // images))
        partial = np.zeros((chunks, c_out, K), dtype=c.dtype)
        c.run(kernels.backward_weight, _flat(gy), _flat(c.x), partial, c.geometry, c.groups, tile,
              per_image=per_thread, tail=(images,))
        grad_w = partial.sum(axis=0).reshape(c.weight.shape)
    return grad_x, grad_w


_PARAMS = """x : array_like, shape (N, C_in, {sp}) or (C_in, {sp})
        Input, channels first. float32 and float64 keep their dtype; integers are converted to
        float64; non-contiguous arrays are copied.
    weight : array_like, shape (C_out, C_in / groups, {k})
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or tuple of {nd} ints
    padding : int, tuple of {nd} ints, tuple of {nd} (low, high) pairs, 'valid' or 'same'
        Zero padding. 'same' (stride 1 only) keeps the spatial size; an odd total puts the extra
        row on the high side, as PyTorch does.
    groups : int
        Input and output channels are split into this many groups, convolved separately
        (groups == C_in is a depthwise convolution)."""


@dask_aware()
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of a batch of images, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H + pad_low + pad_high - dilation * (kh - 1) - 1) // stride + 1``, same for W.

    Examples
    --------
    A vertical-line detector from the lecture on a 4x4 image with a vertical line:

    >>> import numpy as np
    >>> image = np.array([[0, 1, 0, 0]] * 4, dtype=float)[None, None]
    >>> kernel = np.array([[-1, 2, -1]] * 3, dtype=float)[None, None]
    >>> conv2d(image, kernel)[0, 0]
    array([[ 6., -3.],
           [ 6., -3.]])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of a batch of signals, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, L_out)

    Examples
    --------
    The lecture's 1x5 moving average:

    >>> import numpy as np
    >>> conv1d(np.arange(8.)[None, None], np.full((1, 1, 5), 0.2))[0, 0]
    array([2., 3., 4., 5.])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of a batch of volumes, as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2)), padding=1).shape
    (1, 1, 4, 4, 4)
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 3)


_BACKWARD = """Gradients of :func:`conv{nd}d` for its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape of the forward output
        Gradient of the loss with respect to the output.
    x, weight, stride, padding, dilation, groups :
        The arguments of the forward call.
    need_input, need_weight, need_bias : bool
        Which gradients to compute; the others are returned as None.

    Returns
    -------
    grad_input : ndarray, shape of x, or None
        The full (transposed) convolution of grad_output with the weights: with stride 1 and
        many channels a convolution with the flipped weights, else GEMM + col2im.
    grad_weight : ndarray, shape of weight, or None
        Correlation of the input with grad_output, by im2col + GEMM (by Winograd F(2x2, 3x3)
        for the 3x3 stride-1 convolutions that run forward by it).
    grad_bias : ndarray, shape (C_out,), or None
        grad_output summed over the batch and the spatial axes.
"""


def conv1d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 1)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 2)


def conv3d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 3)


def _document():
    spatial = {1: ("L", "kl"), 2: ("H, W", "kh, kw"), 3: ("D, H, W", "kd, kh, kw")}
    for nd, (sp, k) in spatial.items():
        params = _PARAMS.format(sp=sp, k=k, nd=nd)
        fwd = globals()[f"conv{nd}d"]
        fwd.__doc__ = fwd.__doc__.replace("{params}", params)
        globals()[f"conv{nd}d_backward"].__doc__ = _BACKWARD.format(nd=nd) + _BACKWARD_EXAMPLES[nd]


_BACKWARD_EXAMPLES = {
    1: """
    Examples
    --------
    The lecture's backpropagation slide: :math:`o[n] = \\sum_i x[i + n + \\omega]\\, F[i + \\omega]`,
    so with two weights :math:`o_0 = F_0 x_0 + F_1 x_1` and :math:`o_1 = F_0 x_1 + F_1 x_2`, and

    .. math:: \\frac{\\partial J}{\\partial F_1}
              = \\frac{\\partial J}{\\partial o_0} \\frac{\\partial o_0}{\\partial F_1}
              + \\frac{\\partial J}{\\partial o_1} \\frac{\\partial o_1}{\\partial F_1}
              = \\frac{\\partial J}{\\partial o_0} x_1 + \\frac{\\partial J}{\\partial o_1} x_2,

    which is ``grad_w[..., 1]`` (and :math:`\\partial J / \\partial F_0` is ``grad_w[..., 0]``).
    With :math:`x = (1, 2, 3)` and :math:`\\partial J / \\partial o = (10, 100)`:

    >>> import numpy as np
    >>> x0, x1, x2 = 1.0, 2.0, 3.0
    >>> dJ_do0, dJ_do1 = 10.0, 100.0
    >>> F0, F1 = 0.5, 0.5
    >>> o = conv1d([[[x0, x1, x2]]], [[[F0, F1]]])
    >>> o[0, 0], (F0 * x0 + F1 * x1, F0 * x1 + F1 * x2)              # o0, o1
    (array([1.5, 2.5]), (1.5, 2.5))
    >>> _, grad_w, _ = conv1d_backward([[[dJ_do0, dJ_do1]]], [[[x0, x1, x2]]], [[[F0, F1]]])
    >>> grad_w[0, 0]                                                  # dJ/dF0, dJ/dF1
    array([210., 320.])
    >>> dJ_do0 * x1 + dJ_do1 * x2                                     # dJ/dF1 by the slide
    320.0
    >>> F1 - 0.001 * grad_w[0, 0, 1]                                  # F1 <- F1 - eta dJ/dF1
    np.float64(0.18)
""",
    2: """
    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
""",
    3: """
    Examples
    --------
    >>> import numpy as np
    >>> gx, gw, gb = conv3d_backward(np.ones((1, 1, 1, 1, 1)), np.ones((1, 1, 2, 2, 2)),
    ...                              np.ones((1, 1, 2, 2, 2)), need_input=False)
    >>> gx is None, float(gw.sum()), gb
    (True, 8.0, array([1.]))
""",
}
_document()

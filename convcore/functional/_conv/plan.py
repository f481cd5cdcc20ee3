"""The checked arguments of one convolution (:class:`Plan`), shared by every engine.

``y[n, o, p] = bias[o] + sum_{c, t} weight[o, c, t] * x_padded[n, g(o) * C_in/groups + c, p * stride + t * dilation]``.
1-D and 2-D convolutions run as 3-D ones with singleton leading axes: ``Plan.geometry`` holds, per
axis, the input size, output size, kernel size, stride, low padding and dilation, as the kernels
take it.
"""
import copy
import functools
import math

import numpy as np

from ..._threads import blas_threads, threads_for
from ..._validation import as_float_array, as_int, as_tuple
from . import choice


def padding_pairs(padding, nd, kernel, stride, dilation):
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


class Plan:
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
        self.x = as_float_array(x if self.batched else x[np.newaxis], x_name, dtype=self.dtype,
                                empty_batch=True)
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
        pads = padding_pairs(padding, nd, kernel, self.stride, self.dilation)
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

    @property
    def depthwise(self):
        """One input channel per filter, in more than one group."""
        return self.groups > 1 and self.weight.shape[1] == 1

    def unbatch(self, y):
        return y if self.batched else y[0]

    def bias(self, bias):
        """The checked bias (C_out,) in the working dtype, or an empty array for None."""
        c_out = self.weight.shape[0]
        if bias is None:
            return np.empty(0, dtype=self.dtype)
        b = np.asarray(bias)
        if b.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},), got {b.shape}")
        return as_float_array(b, "bias", dtype=self.dtype)

    def grad_output(self, grad_output):
        """The checked gradient of the output, batched, in the working dtype."""
        gy = np.asarray(grad_output)
        if gy.dtype.kind not in "biuf":
            raise TypeError(f"grad_output must hold real numbers, got dtype {gy.dtype}")
        if not self.batched:
            gy = gy[np.newaxis]
        if gy.shape != self.out_shape:
            expected = self.out_shape if self.batched else self.out_shape[1:]
            raise ValueError(f"grad_output must have the output's shape {expected}, got "
                             f"{np.shape(grad_output)}")
        return as_float_array(gy, "grad_output", dtype=self.dtype, empty_batch=True)

    def threads(self, images=1):
        """(threads for the convolution's multiply-adds (see choice.GRAIN), whether `run` runs
        its work items of `images` images on them rather than leaving them to BLAS)."""
        flops = 2 * math.prod(self.out_shape) * math.prod(self.weight.shape[1:])
        n_threads = threads_for(flops, choice.GRAIN)
        return n_threads, -(-self.x.shape[0] // images) >= n_threads > 1

    def run(self, kernel, *arrays, per_image, images=1, tail=()):
        """Call a kernel either with one work item (`images` images) per thread (BLAS held to one
        thread) or, when there are fewer items than threads, item by item with BLAS owning the
        threads. `per_image(threads)` returns the arguments that follow `arrays` and depend on the
        thread count (scratch arrays); `tail` follows the thread count."""
        n_threads, by_items = self.threads(images)
        if by_items:
            with blas_threads(1):
                return kernel(*arrays, *per_image(n_threads), n_threads, *tail)
        with blas_threads(n_threads):
            return kernel(*arrays, *per_image(1), 1, *tail)


def flat(a):
    """(N, C, *spatial) as (N, C, positions), the kernels' layout."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def trim_taps(c):
    """`c` without the kernel taps that meet only zero padding, or `c` itself when every tap
    reaches the input. A 3x3 'same' convolution of a 1x1 feature map (the last stage of a network
    on 32x32 images) is its centre tap: a 1x1 convolution with a ninth of the work. Exact: the
    dropped taps only ever multiply zeros. Along each axis, tap t reads input t * dilation - low
    + o * stride for the outputs o; the taps kept run from the first to the last that lands on
    the input for some o."""
    keep = _kept_taps(tuple(c.geometry[:, 3 - c.nd:].ravel().tolist()), c.nd)
    if keep is None:
        return c
    lead, g = 3 - c.nd, c.geometry
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


@functools.lru_cache(maxsize=256)
def _kept_taps(geometry, nd):
    """[(first, end)] of the taps kept along each spatial axis, or None when all are kept (or
    none reaches the input), for the geometry columns `geometry` of the `nd` spatial axes
    (flattened, rows as in Plan.geometry). Cached: the scan in Python cost about 20 us a call,
    a share of a first layer's 1-2 ms forward."""
    cols = np.array(geometry, dtype=np.int64).reshape(6, nd)
    if all(cols[3] == 1) and all(cols[0] >= cols[5] * (cols[2] - 1) + 1):
        return None  # stride 1, input as wide as the kernel's span: taps 0 and k-1 reach it
    keep = []
    for a in range(nd):
        n, n_out, k, s, lo, d = (int(v) for v in cols[:, a])
        used = []
        for t in range(k):
            first = max(0, lo - t * d)  # o * s must lie in [first, last]
            last = min((n_out - 1) * s, n - 1 + lo - t * d)
            if first <= last and -(-first // s) * s <= last:
                used.append(t)
        if not used:  # no tap ever reaches the input (a strided axis all in the padding)
            return None
        keep.append((used[0], used[-1] + 1))
    if all(t1 - t0 == k for (t0, t1), k in zip(keep, cols[2].tolist())):
        return None
    return tuple(keep)

"""Choosing the engine: direct, separable (two or more 1-D passes) or FFT, by a cost model.

Predicted seconds, with constants measured on the project's 2-core AVX2 machine by
``python benchmarks/bench_signal.py --calibrate`` (single thread, per multiply-add or per
``n log2 n`` of one real transform; complex costs about 4x / 2x):

- direct:     ``DIRECT[dtype] * outputs * taps / threads``
- separable:  per axis, one pass of the line kernel of src/lines.pyx over the data so far:
  ``(LINES_MAC * outputs * taps + LINES_ELEMENT * outputs) / threads`` (complex data: the direct
  kernel's constant plus one memory pass, ``COPY`` per byte)
- fft:        ``FFT[dtype] * 3 * N log2 N / fft_threads`` over the transform shape, plus the copy of
  a padded region when the edge rule is not a zero fill (with a stride: P phases of N/P points
  forward, one inverse of N/P); a 1-D transform is one long transform (``FFT_1D``, no threads);
- oa (1-D):   overlap-add, ``(2 * blocks + 1)`` transforms of the block length, batched.
- tiles (2-D, stride 1, real): overlap-save over cache-sized tiles (``_tiles.tile_shape``):
  ``FFT[dtype] * work / fft_threads`` plus one copy of the extended input; the same per-``n log n``
  constant fits (``benchmarks/bench_signal.py --calibrate`` prints it for 180x180 tiles).

A direct cost below ``_floor`` (a lower bound of every other engine: its fixed cost plus one pass
over the output) is taken at once, so small kernels skip the other estimates. 'tiles' and 'oa' are
FFT engines too: ``choose_conv_method`` reports them as 'fft'; ``method='fft'`` always runs one
transform of the whole input, as SciPy's fftconvolve (a NaN spreads over the whole result).

Integers may only go to the FFT when the result is provably exact (every partial sum below 2**40,
far inside float64's 53 bits, so rounding recovers the integer); bool and non-finite inputs always
stay direct. ``choose_conv_method`` answers SciPy's question ('direct' or 'fft') with this model.
"""
import math

import numpy as np
import scipy.fft as sp_fft

from .._cpu import load
from .._modes import MODE_CONSTANT
from .._threads import get_num_threads
from ._separable import separable_factors
from ._tiles import tile_shape, usable as tiles_usable

# seconds per multiply-add (direct kernel) / per n log2 n of one real FFT, one thread
# (f4 / f8 re-measured with the kernel of 11x11 to 21x21 filters of a 1024x1024 image, where the
# choice against the tiled FFT is made: 3.6-3.9e-11 and 5.0-6.5e-11)
DIRECT = {"f4": 3.8e-11, "f8": 5.5e-11, "c8": 2.0e-10, "c16": 3.8e-10, "int": 4.6e-11}
# float32 2-D kernels that src/direct.pyx runs by its blocks (runs_blocks: 7..64 rows, >= 7
# columns, stride 1, AVX2; 4 output rows in registers): 2.4-3.0e-11 from 11x11 to 21x21
# (the other float32 passes 3.4-4.7e-11). One thread, float32 1024x1024 'same': direct 6.8-7.7 ms
# against tiles 9.2-10.5 at 15x15, even at 19x19
DIRECT_BLOCK_F4 = 2.7e-11
_direct_kernel = load("direct")
FFT = {"f4": 1.8e-10, "f8": 3.3e-10}
FFT_1D = 6.0e-10         # one long 1-D transform, in place in a convolution (no thread speed-up)
OA_SETUP = 3.0e-4        # overlap-add: padding, block reshapes and the overlap sums
OA_FACTOR = 3.0          # measured overlap-add time against its transforms alone
COPY = 2.6e-11           # seconds per byte of an extra pass over memory (separable passes, padding)
DIRECT_SETUP = 2.0e-5    # fixed cost of a kernel call
FFT_SETUP = 6.0e-5       # fixed cost of the transforms (plans, allocations)
EXACT_FFT_LIMIT = 2 ** 40
# the line kernel of src/lines.pyx (one thread): per multiply-add, and per output sample of a pass
# (gathering lines into double buffers and converting back)
LINES_MAC = 6.0e-11
LINES_ELEMENT = 1.5e-9


def _dtype_key(dtype):
    if dtype.kind == "c":
        return "c8" if dtype.itemsize <= 8 else "c16"
    if dtype.kind == "f":
        return "f4" if dtype.itemsize <= 4 else "f8"
    return "int"


def _threads(work, threads):
    """Effective parallel speed-up: small jobs do not spread over threads."""
    return 1.0 + (threads - 1) * min(1.0, work / 2e6) * 0.9


def _blocked(plan):
    """True when the direct kernel runs `plan` by its 4-row blocks (float32 rate DIRECT_BLOCK_F4)."""
    return plan.result == np.float32 and _direct_kernel.runs_blocks(plan.w.shape, plan.stride)


def direct_cost(plan, threads=None):
    work = plan.outputs * plan.taps
    threads = threads or get_num_threads()
    per = DIRECT_BLOCK_F4 if _blocked(plan) else DIRECT[_dtype_key(plan.result)]
    return DIRECT_SETUP + per * work / _threads(work, threads)


def separable_cost(plan, threads=None):
    """One 1-D pass per axis: the line kernel (src/lines.pyx, double accumulation) for real data,
    the direct kernel with a one-axis kernel for complex data."""
    threads = threads or get_num_threads()
    cost = DIRECT_SETUP * plan.x.ndim
    shape = list(plan.x.shape)
    real = plan.result.kind == "f"
    per = LINES_MAC if real else DIRECT[_dtype_key(plan.result)]
    order = sorted(range(plan.x.ndim), key=lambda a: plan.out_shape[a] / max(plan.x.shape[a], 1))
    for axis in order:
        shape[axis] = plan.out_shape[axis]
        size = math.prod(shape)
        work = size * plan.w.shape[axis]
        speedup = _threads(work, threads)
        if real:
            cost += (per * work + LINES_ELEMENT * size) / speedup
        else:
            cost += per * work / speedup + COPY * size * plan.result.itemsize
    return cost


def fft_cost(plan, threads=None):
    is_complex = plan.result.kind == "c"
    n = 1
    for m, k in zip(plan.shape, plan.w.shape):
        n *= sp_fft.next_fast_len(m + k - 1, not is_complex)
    key = "f4" if plan.result in (np.float32, np.complex64) else "f8"
    per = FFT[key] * (2 if is_complex else 1)
    phases = math.prod(plan.stride)
    if phases == 1:
        work = 3 * n * math.log2(max(n, 2))
    else:  # polyphase: forward transforms of n/phases points per phase, one inverse of n/phases
        small = max(n / phases, 2)
        work = (2 * n + small) * math.log2(small)
    if plan.x.ndim == 1:  # one long transform: no worker threads, cache misses
        per, speedup = FFT_1D * (2 if is_complex else 1), 1.0
    else:
        speedup = 1 + 0.7 * ((threads or get_num_threads()) - 1)
    cost = FFT_SETUP + per * work / speedup + COPY * n * 16
    if not (plan.boundary == MODE_CONSTANT and plan.cval == 0):
        cost += COPY * n * plan.result.itemsize
    return cost


def tiles_cost(plan, threads=None):
    """Overlap-save over tiles: forward and inverse transforms of every tile, the copies of the
    input into the tile rows, and the padded region when the edge rule is not a zero fill."""
    key = "f4" if plan.result == np.float32 else "f8"
    item = 4 if key == "f4" else 8
    _, work = tile_shape(tuple(plan.shape), tuple(plan.w.shape), item)
    region = math.prod(m + k - 1 for m, k in zip(plan.shape, plan.w.shape))
    cost = FFT_SETUP + FFT[key] * work / (1 + 0.7 * ((threads or get_num_threads()) - 1))
    cost += COPY * region * item * 2
    if not (plan.boundary == MODE_CONSTANT and plan.cval == 0):
        cost += COPY * region * item
    return cost


def oa_cost(plan, threads=None):
    """Overlap-add of a 1-D plan: blocks of a fast length L, batched over the worker threads."""
    from ._fftconvolve import _block_length

    is_complex = plan.result.kind == "c"
    k = plan.w.shape[0]
    n = plan.shape[0] + k - 1
    length = _block_length(n, k, is_complex)
    blocks = -(-n // (length - k + 1))
    key = "f4" if plan.result in (np.float32, np.complex64) else "f8"
    per = FFT[key] * (2 if is_complex else 1)
    work = (2 * blocks + 1) * length * math.log2(max(length, 2))
    threads = threads or get_num_threads()
    return OA_SETUP + OA_FACTOR * per * work / (1 + 0.7 * (threads - 1))


def exact_in_fft(x, w, cval=0):
    """True when an integer convolution of x (extended by `cval`) and w is exact through float64
    FFTs: every sum of products stays below EXACT_FFT_LIMIT."""
    big_x = max(float(np.max(np.abs(x.astype(np.float64)))), abs(float(cval)))
    big_w = float(np.max(np.abs(w.astype(np.float64))))
    return big_x * big_w * w.size < EXACT_FFT_LIMIT


def _finite(a):
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def candidates(plan, method):
    """Engines allowed for `plan` under `method` ('auto', 'direct', 'fft'): a list of names."""
    if method == "fft":
        # one transform of the whole input: a NaN or inf spreads over the whole result, as in
        # SciPy's fftconvolve (tiles would keep it inside its tiles)
        return ["fft"]
    allowed = ["direct"]
    floats = plan.result.kind in "fc"
    if floats and plan.w.dtype.kind == "f" and plan.w.ndim >= 2 and plan.w.size > 1:
        allowed.append("separable")
    if method == "auto" and plan.result.kind != "b":
        allowed.append("fft")
        if plan.x.ndim == 1 and plan.w.shape[0] > 1:
            allowed.append("oa")
        if tiles_usable(plan):
            allowed.append("tiles")
    return allowed


def _fft_allowed(plan):
    """The checks that need a pass over the data, done only when the FFT would be faster."""
    if plan.result.kind in "fc":
        return _finite(plan.x) and _finite(plan.w)
    return exact_in_fft(plan.x, plan.w, plan.cval if plan.boundary == MODE_CONSTANT else 0)


def _floor(plan, threads):
    """A lower bound of every other engine's cost: the fixed cost and one pass over the output of
    the transforms (copies into the transform buffers) or of the separable line passes."""
    outputs = plan.outputs
    item = 4 if plan.result.char in "fF" else 8   # float32, complex64 (no dtype comparisons)
    spectral = FFT_SETUP + COPY * outputs * 2 * item
    separable = DIRECT_SETUP * plan.x.ndim + min(LINES_ELEMENT / threads, COPY * 16) * outputs
    return min(spectral, separable)


def choose(plan, method):
    """(engine, factors): the cheapest allowed engine; factors for 'separable', else None."""
    allowed = candidates(plan, method)
    threads = get_num_threads()
    if "direct" in allowed:
        best_cost = direct_cost(plan, threads)
        if best_cost <= _floor(plan, threads):  # small kernels: skip the other estimates
            return "direct", None
    spectral = [(cost(plan, threads), name) for name, cost in (("fft", fft_cost),
                                                               ("oa", oa_cost),
                                                               ("tiles", tiles_cost))
                if name in allowed]
    if "direct" not in allowed:
        return min(spectral)[1], None
    best, factors = "direct", None
    if "separable" in allowed:
        cost = separable_cost(plan, threads)
        if cost < best_cost:
            factors = separable_factors(plan.w)
            if factors is not None:
                best, best_cost = "separable", cost
    if spectral:
        cost, name = min(spectral)
        if cost < best_cost and _fft_allowed(plan):
            return name, None
    return best, factors

"""What the handlers share: chunk layouts, argument checks, the chunk function and its threads."""
import dask
import dask.base
import numpy as np

from .._threads import kernel_threads


def chunk_threads():
    """Kernel threads of one chunk task: ``dask.config`` key ``convcore.threads``, default 1."""
    return dask.config.get("convcore.threads", 1)


class OnThreads:
    """``fn(*args, **kwargs)`` with convcore's kernels on `threads` threads (picklable)."""

    def __init__(self, fn, threads):
        self.fn, self.threads = fn, threads

    def __dask_tokenize__(self):
        return type(self).__name__, dask.base.tokenize(self.fn), self.threads

    def __call__(self, *args, **kwargs):
        with kernel_threads(self.threads):
            return self.fn(*args, **kwargs)


class OnThreadsAt(OnThreads):
    """:class:`OnThreads` for ``map_blocks``: `fn` is told the chunk's ``block_id``."""

    def __call__(self, block, block_id=None):
        return super().__call__(block, block_id=block_id)


def call(public, name, args, block):
    """`public` on one chunk: `block` as its argument `name`, the other arguments as given."""
    return public(**{name: block}, **args)


def fit_chunks(chunks, minimum, modulus=1, residue=0):
    """Chunk sizes along one axis with no empty chunk, each at least `minimum` long, and the inner
    boundaries moved down to ``residue`` modulo `modulus` (strided outputs stay aligned).

    A chunk that would be too short is merged with its neighbour; a short axis becomes one chunk.

    Examples
    --------
    >>> fit_chunks((1, 1, 0, 5, 1), 2)
    (2, 6)
    >>> fit_chunks((4, 4, 4), 1, modulus=3)
    (3, 3, 6)
    """
    total = int(sum(chunks))
    if total == 0:
        return (0,)
    least = max(int(minimum), 1)
    bounds = np.cumsum(chunks)[:-1]
    if modulus > 1:
        bounds = bounds - (bounds - residue) % modulus
    sizes, last = [], 0
    for b in sorted(set(int(b) for b in bounds)):
        if b - last >= least and total - b >= least:
            sizes.append(b - last)
            last = b
    sizes.append(total - last)
    return tuple(sizes)


def direct_last_axis(n, k, taps, first, m, step, wrap):
    """The least chunk length along the last axis (None: keep that axis whole) for which the
    direct kernel (``src/_direct.pyx``) sums each output in the order it does for the whole array.

    That kernel sums the columns that read outside the input (the edge rule) in another order
    than the inner ones, unless it copies the rows extended first (short rows against the kernel:
    ``(k - 1) * taps >= m``, stride 1 along the axis), when every column takes the inner loop.
    A chunk at the array's edge must make the whole array's choice: no copy needs more than
    ``(k - 1) * taps`` outputs in it; and 'wrap' columns read the far end only in a whole row.
    """
    if k < 2 or (first >= 0 and first + (m - 1) * step + k <= n):
        return 0                        # nothing read outside: no edge columns
    if step == 1 and (k - 1) * taps >= m:
        return 0                        # rows copied extended, in every chunk too
    if wrap:
        return None
    return (k - 1) * taps + k + 1 if step == 1 else 0


def standin(x, shape=None):
    """A small in-memory array of `x`'s dtype (by default one sample per axis, none if empty) on
    which the NumPy path checks the arguments and tells the result's dtype."""
    if shape is None:
        shape = tuple(min(n, 1) for n in x.shape)
    return np.zeros(shape, dtype=x.dtype)


def meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype=dtype)


def check_output(output):
    """A dask call returns a new lazy array: `output` may name a dtype, not be an array."""
    if output is not None and not isinstance(output, (type, np.dtype, str)):
        raise TypeError("output must be None or a dtype when the input is a dask array, got "
                        f"{type(output).__name__}")


def check_in_memory(name, value):
    """Kernels and weights stay in memory: a dask array there is refused, naming the argument."""
    from . import is_dask
    if is_dask(value):
        raise TypeError(f"{name} must be an in-memory array (the input may be a dask array), "
                        "got a dask array")

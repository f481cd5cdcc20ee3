"""Scratch arrays of the engines, kept between calls. A fresh array of a few hundred KiB comes
from the system as new pages on every call, and each page faults on its first write: on a small
layer that cost as much as the convolution (32x128x4x4 by 128x128x3x3, input gradient: 0.66 ms
of 3.1 went to the 1 MiB of transformed weights). A buffer per thread and purpose is therefore
reused; buffers above MAX_BYTES (large layers, whose work hides the faults) are not kept, so a
thread holds at most MAX_BYTES per slot (five slots).

An array from here is only valid until the next call for the same `slot` on the same thread, so
it must never be returned to the user.
"""
import threading

import numpy as np

MAX_BYTES = 8 << 20

_local = threading.local()


def empty(slot, shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype`, the buffer of `slot` (a name
    per purpose, so that arrays alive at the same time never share one) on this thread.

    Examples
    --------
    >>> import numpy as np
    >>> a = empty("example", (2, 3), np.float32)
    >>> a.shape, a.dtype == np.float32
    ((2, 3), True)
    """
    dtype = np.dtype(dtype)
    n = dtype.itemsize
    for s in shape:
        n *= s
    if n > MAX_BYTES:
        return np.empty(shape, dtype)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(slot)
    if buf is None or buf.size < n:
        buf = buffers[slot] = np.empty(max(n, 64), np.uint8)
    return buf[:n].view(dtype).reshape(shape)


def zeros(slot, shape, dtype):
    """As :func:`empty`, filled with zeros."""
    a = empty(slot, shape, dtype)
    a.fill(0)
    return a


def sum_chunks(partial):
    """partial[0] + partial[1] + ... in that order (the bits of ``partial.sum(axis=0)``), summed
    into partial[0], which is returned: no new array of that size."""
    total = partial[0]
    for p in partial[1:]:
        total += p
    return total

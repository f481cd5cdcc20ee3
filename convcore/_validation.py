"""Argument checks shared by the public functions: each error names the argument it is about."""

import math
import numbers
import operator
import os

import numpy as np


def as_int(value, name, min_value=None):
    """Return `value` as a Python int, refusing bools, floats and strings."""
    if type(value) is not int:   # Python ints (the usual argument) skip the abstract-class checks
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        value = operator.index(value)
    if min_value is not None and value < min_value:
        kind = "positive" if min_value == 1 else f">= {min_value}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return value


def as_tuple(value, n, name, min_value=1):
    """Normalise an int or a length-`n` sequence of ints to a tuple of `n` ints (PyTorch's _ntuple).

    >>> as_tuple(3, 2, 'stride')
    (3, 3)
    >>> as_tuple((1, 2), 2, 'stride')
    (1, 2)
    """
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
        return tuple(as_int(v, name, min_value) for v in value)
    return (as_int(value, name, min_value),) * n


def as_float_array(x, name, ndim=None, dtype=None, empty_batch=False):
    """Return `x` as a C-contiguous float32/float64 array, converting integers and bools to float64.

    Complex, object and string data are refused with a TypeError; empty arrays with a ValueError,
    except, with `empty_batch`, a batch of no items whose other axes are not empty (as PyTorch's
    layers take it). `dtype` forces a working dtype (e.g. the input's, for weights).
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size == 0 and not (empty_batch and arr.ndim > 1 and arr.shape[0] == 0
                              and all(arr.shape[1:])):
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def available_memory():
    """Bytes of memory this process can be handed now, or None where it cannot tell.

    The smaller of the system's ``MemAvailable`` (free memory plus the cache Linux can drop; else
    ``os.sysconf``'s free or physical pages) and the headroom of the container's memory limit
    (cgroup v2 ``memory.max - memory.current``, v1 ``memory.limit_in_bytes - usage_in_bytes``),
    since a container is killed at its limit whatever the host has free.
    """
    sizes = [size for size in (_system_available(), cgroup_headroom()) if size is not None]
    return min(sizes) if sizes else None


def _system_available():
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):   # no sysconf (Windows) or no such name
            continue
    return None


def cgroup_headroom(root="/sys/fs/cgroup", membership="/proc/self/cgroup"):
    """Bytes left under this process's cgroup memory limit, or None without a limit (or cgroups).

    `root` is where the cgroup file system is mounted and `membership` the file naming this
    process's groups (``hierarchy:controllers:path`` lines); v2 reads the unified group's
    ``memory.max`` ("max" means no limit) and ``memory.current``, v1 the memory controller's files.

    >>> cgroup_headroom(root="/nonexistent") is None
    True
    """
    try:
        with open(membership, encoding="ascii") as f:
            groups = [line.rstrip("\n").split(":", 2) for line in f if line.count(":") >= 2]
    except OSError:
        return None
    layouts = []
    for _, controllers, path in groups:
        if controllers == "":
            layouts.append((os.path.join(root, path.lstrip("/")), "memory.max", "memory.current"))
        elif "memory" in controllers.split(","):
            for base in (os.path.join(root, "memory", path.lstrip("/")), os.path.join(root, "memory")):
                layouts.append((base, "memory.limit_in_bytes", "memory.usage_in_bytes"))
    for folder, limit_name, usage_name in layouts:
        try:
            with open(os.path.join(folder, limit_name), encoding="ascii") as f:
                limit = f.read().strip()
            with open(os.path.join(folder, usage_name), encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 2**60:  # v1 writes ~2**63: none
            return None
        return max(int(limit) - usage, 0)
    return None


def check_memory(shape, itemsize, what):
    """Refuse, before allocating it, an array of `shape` whose bytes exceed :func:`available_memory`.

    `what` names the arguments that asked for it (``"size=99999"``); a ValueError says so.

    >>> check_memory((3, 3), 8, "size=3")
    >>> check_memory((10**9, 10**9), 8, "size=1000000000")
    Traceback (most recent call last):
    ...
    ValueError: size=1000000000 asks for an array of shape (1000000000, 1000000000) (7450580596.9 GiB), more than the memory available (...)
    """
    nbytes = math.prod(shape) * itemsize
    limit = available_memory()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{what} asks for an array of shape {tuple(shape)} ({nbytes / 2**30:.1f} "
                         f"GiB), more than the memory available ({limit / 2**30:.1f} GiB)")


def check_output_dir(path, name):
    """Refuse at once a directory of results that could not be written at the end of a long run:
    a file in the way, or a folder without write permission. Creates nothing.

    >>> check_output_dir("/proc/version/figures", "output")
    Traceback (most recent call last):
    ...
    ValueError: output '/proc/version/figures' cannot be created: /proc/version is a file
    """
    path = os.path.abspath(os.fspath(path))
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{name} {path!r} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path!r} cannot be written: no permission in {existing}")

"""dask arrays through convcore's public functions: dask in, a lazy dask array out.

The public functions carry the :func:`dask_aware` decorator; given a ``dask.array.Array`` they
hand their bound arguments to the handler of their package (``_ndimage``, ``_signal``,
``_filters``, ``_networks``), which checks them at once by the NumPy path's own code (so the errors
are the same, raised by the call, not at ``compute()``) and builds the graph: overlapping chunks
through ``_halo`` (two tasks per chunk), batches through ``map_blocks``. Nothing here imports dask unless a dask array comes in.

The chunk function runs convcore's kernels on one thread (the cluster's workers supply the
parallelism); ``dask.config.set({"convcore.threads": n})`` around the call gives each chunk `n`
threads instead.
"""
import functools
import importlib
import inspect
import sys

#: handler module of each public package
_HANDLERS = {"ndimage": "_ndimage", "signal": "_signal", "filters": "_filters",
             "training": "_networks", "functional": "_networks"}


def is_dask(x):
    """True for a ``dask.array.Array`` (without importing dask when it is not loaded)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def dask_aware(data=None):
    """Decorator: calls whose argument `data` (default: the first) is a dask array go to dask.

    Examples
    --------
    >>> @dask_aware()
    ... def double(x):
    ...     return 2 * x
    >>> double(3)
    6
    """
    def decorate(func):
        signature = inspect.signature(func)
        name = data or next(iter(signature.parameters))
        index = list(signature.parameters).index(name)
        package = func.__module__.split(".")[1]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if not is_dask(args[index] if len(args) > index else kwargs.get(name)):
                return func(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            handler = importlib.import_module(f"{__name__}.{_HANDLERS[package]}")
            return handler.run(wrapper, func.__name__, name, bound)
        return wrapper
    return decorate

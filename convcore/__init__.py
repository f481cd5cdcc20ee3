"""convcore: Cython-accelerated convolutions for filtering and for small CNNs on the CPU.

Filtering: :mod:`convcore.signal` (drop-in for ``scipy.signal``'s convolutions),
:mod:`convcore.ndimage` (drop-in for ``scipy.ndimage``'s filters), :mod:`convcore.filters` (ready
kernels and photographs). Learning: :mod:`convcore.functional` (convolution, pooling, softmax and
the losses with their gradients, also exported here), :mod:`convcore.nn`, :mod:`convcore.losses`, :mod:`convcore.optim`,
:mod:`convcore.metrics`, :mod:`convcore.datasets`, :mod:`convcore.models`. Subpackages are imported
on first use.
"""

__version__ = "0.1.0"

import importlib

from ._config import show_config
from ._threads import get_num_threads, set_num_threads
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_all
from . import _model  # noqa: F401,E402 (gives every nn.Module fit, predict, save...)

_SUBMODULES = ("datasets", "filters", "functional", "io", "losses", "metrics", "models", "ndimage",
               "nn", "optim", "plots", "signal", "training")

__all__ = ["__version__", "get_num_threads", "load", "set_num_threads", "show_config",
           *_functional_all, *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "load":  # convcore.load(path): a model saved with model.save(path)
        return importlib.import_module(".io", __name__).load
    raise AttributeError(f"module 'convcore' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

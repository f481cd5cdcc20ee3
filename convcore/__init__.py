"""convcore: Cython-accelerated convolutions for filtering and for small CNNs on the CPU."""

__version__ = "0.1.0"

from ._config import show_config
from ._threads import get_num_threads, set_num_threads

__all__ = ["__version__", "get_num_threads", "set_num_threads", "show_config"]

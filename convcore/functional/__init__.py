"""Stateless convolution, pooling, linear, batch normalisation, activations, dropout, attention,
softmax and loss functions with their gradients (NCHW, PyTorch's layout)."""
from .activations import *  # noqa: F401,F403
from .activations import __all__ as _activations_all
from .attention import *  # noqa: F401,F403
from .attention import __all__ as _attention_all
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv_all
from .dense import *  # noqa: F401,F403
from .dense import __all__ as _dense_all
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization_all
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pooling_all

__all__ = (list(_conv_all) + list(_dense_all) + list(_normalization_all) + list(_pooling_all)
           + list(_activations_all) + list(_attention_all) + list(_losses_all))

"""Weight initialisation (He / Glorot, uniform or normal) from one seeded random generator.

``manual_seed(seed)`` makes every later initialisation and every Dropout mask reproducible.

Examples
--------
>>> import numpy as np
>>> from convcore.nn import init
>>> init.manual_seed(0)
>>> a = init.he_uniform((3, 4), dtype=np.float64)
>>> init.manual_seed(0)
>>> bool(np.array_equal(a, init.he_uniform((3, 4), dtype=np.float64)))
True
"""
import math

import numpy as np

__all__ = ["manual_seed", "get_rng", "fan_in_out", "he_uniform", "he_normal", "glorot_uniform",
           "glorot_normal", "initialize", "INITIALIZERS"]

_state = {"rng": np.random.default_rng()}


def manual_seed(seed):
    """Reset the generator used by initialisers and Dropout to ``np.random.default_rng(seed)``."""
    _state["rng"] = np.random.default_rng(seed)


def get_rng():
    """The shared ``numpy.random.Generator``."""
    return _state["rng"]


def fan_in_out(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``: Linear ``(out, in)``, conv ``(out, in, *k)``."""
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions, got {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _draw(shape, dtype, rng, uniform, std):
    rng = get_rng() if rng is None else rng
    if uniform:
        bound = math.sqrt(3.0) * std
        return rng.uniform(-bound, bound, size=shape).astype(dtype)
    return (rng.standard_normal(size=shape) * std).astype(dtype)


def he_uniform(shape, dtype=np.float32, rng=None, gain=math.sqrt(2.0)):
    """He (Kaiming) uniform: ``U(-b, b)``, ``b = gain * sqrt(3 / fan_in)`` (ReLU gain sqrt 2)."""
    return _draw(shape, dtype, rng, True, gain / math.sqrt(fan_in_out(shape)[0]))


def he_normal(shape, dtype=np.float32, rng=None, gain=math.sqrt(2.0)):
    """He (Kaiming) normal: ``N(0, gain^2 / fan_in)``."""
    return _draw(shape, dtype, rng, False, gain / math.sqrt(fan_in_out(shape)[0]))


def glorot_uniform(shape, dtype=np.float32, rng=None, gain=1.0):
    """Glorot (Xavier) uniform: ``U(-b, b)``, ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fi, fo = fan_in_out(shape)
    return _draw(shape, dtype, rng, True, gain * math.sqrt(2.0 / (fi + fo)))


def glorot_normal(shape, dtype=np.float32, rng=None, gain=1.0):
    """Glorot (Xavier) normal: ``N(0, gain^2 * 2 / (fan_in + fan_out))``."""
    fi, fo = fan_in_out(shape)
    return _draw(shape, dtype, rng, False, gain * math.sqrt(2.0 / (fi + fo)))


INITIALIZERS = {"he_uniform": he_uniform, "he_normal": he_normal,
                "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal}


def initialize(name, shape, dtype=np.float32, rng=None):
    """Draw a weight of ``shape`` with the initialiser called ``name`` (a key of INITIALIZERS)."""
    if name not in INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {name!r}")
    return INITIALIZERS[name](shape, dtype=dtype, rng=rng)

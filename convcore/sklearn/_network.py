"""The network the slide's choices describe: convolution blocks, then dense layers, then the output.

``build_network(params, sample_shape, n_outputs)`` checks every choice against the data it meets
(so a kernel larger than the feature map it reaches is refused with the parameter's name) and
returns a :class:`convcore.nn.Sequential`.
"""
import numbers

import numpy as np

from .. import nn

__all__ = ["ACTIVATIONS", "POOLING", "build_network", "check_choices"]

#: activation name -> layer class
ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "gelu": nn.GELU}
#: pooling name -> layer class per spatial rank (1-D signals, 2-D images, 3-D volumes)
POOLING = {"max": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
           "avg": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)}
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}  # none for 3-D volumes in convcore yet


def _count(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _per_layer(value, n, name):
    """An int for every layer, or a sequence with one positive int per layer."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries but there are {n} layers; give one "
                             f"int per layer or a single int")
        return [_count(v, name, 1) for v in value]
    return [_count(value, name, 1)] * n


def check_choices(p):
    """Validate the architecture choices in the dict ``p``; return them normalised."""
    conv_layers = _count(p["conv_layers"], "conv_layers", 0)
    dense_layers = _count(p["dense_layers"], "dense_layers", 0)
    out = {"conv_layers": conv_layers, "dense_layers": dense_layers,
           "filters": _per_layer(p["filters"], conv_layers, "filters"),
           "units": _per_layer(p["units"], dense_layers, "units"),
           "kernel_size": _count(p["kernel_size"], "kernel_size", 1),
           "stride": _count(p["stride"], "stride", 1)}
    padding = p["padding"]
    if padding not in ("same", "valid") and not (
            isinstance(padding, numbers.Integral) and not isinstance(padding, bool) and padding >= 0):
        raise ValueError(f"padding must be 'same', 'valid' or a non-negative int, got {padding!r}")
    out["padding"] = padding
    if p["pooling"] is not None and p["pooling"] not in POOLING:
        raise ValueError(f"pooling must be 'max', 'avg' or None, got {p['pooling']!r}")
    out["pooling"] = p["pooling"]
    if p["activation"] not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {p['activation']!r}")
    out["activation"] = p["activation"]
    dropout = p["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    out["dropout"] = float(dropout)
    if not isinstance(p["batch_norm"], (bool, np.bool_)):
        raise ValueError(f"batch_norm must be True or False, got {p['batch_norm']!r}")
    out["batch_norm"] = bool(p["batch_norm"])
    return out


def _conv_padding(padding, kernel, stride):
    if padding == "same" and stride > 1:  # 'same' needs stride 1 in convcore: pad half the kernel
        return (kernel - 1) // 2
    return padding


def build_network(p, sample_shape, n_outputs, dtype):
    """``Sequential``: [conv, (batch norm), activation, (pool)] x conv_layers, flatten,
    [linear, (batch norm), activation, (dropout)] x dense_layers, linear(n_outputs).

    ``sample_shape`` is one sample's shape ``(C, *spatial)`` with 1 to 3 spatial axes.
    """
    c = check_choices(p)
    nd = len(sample_shape) - 1
    if not 1 <= nd <= 3:
        raise ValueError(f"samples must have 1 to 3 spatial axes after the channel axis, got shape "
                         f"{tuple(sample_shape)}")
    act = ACTIVATIONS[c["activation"]]
    layers, shape = [], (1,) + tuple(sample_shape)
    k, s = c["kernel_size"], c["stride"]
    for i, width in enumerate(c["filters"]):
        spatial = shape[2:]
        pad = _conv_padding(c["padding"], k, s)
        reach = min(spatial) + (0 if isinstance(pad, str) else 2 * pad)
        if pad != "same" and k > reach:
            raise ValueError(f"kernel_size={k} is larger than the {spatial} feature map that "
                             f"convolution layer {i + 1} receives (padded: {reach}); use a smaller "
                             f"kernel_size, padding, or fewer conv_layers/pooling")
        layers.append(_CONV[nd - 1](shape[1], width, k, stride=s, padding=pad, dtype=dtype))
        shape = layers[-1].output_shape(shape)
        if c["batch_norm"] and nd in _BATCH_NORM:
            layers.append(_BATCH_NORM[nd](width, dtype=dtype))
        layers.append(act())
        if c["pooling"] is not None:  # halves every axis, rounding up; a 1-wide axis stays as it is
            window = tuple(min(2, s) for s in shape[2:])
            layers.append(POOLING[c["pooling"]][nd - 1](window, ceil_mode=True))
            shape = layers[-1].output_shape(shape)
    layers.append(nn.Flatten())
    width = int(np.prod(shape[1:]))
    for units in c["units"]:
        layers.append(nn.Linear(width, units, dtype=dtype))
        if c["batch_norm"]:
            layers.append(nn.BatchNorm1d(units, dtype=dtype))
        layers.append(act())
        if c["dropout"]:
            layers.append(nn.Dropout(c["dropout"]))
        width = units
    layers.append(nn.Linear(width, n_outputs, init="glorot_uniform", dtype=dtype))
    return nn.Sequential(*layers)

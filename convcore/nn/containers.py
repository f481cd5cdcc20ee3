"""Containers: Sequential (a chain), Residual (block + shortcut) and Concat (parallel branches).

Examples
--------
>>> import numpy as np
>>> from convcore.nn import Linear, ReLU
>>> block = Residual(Sequential(Linear(4, 4, dtype=np.float64), ReLU()))
>>> block(np.zeros((2, 4))).shape
(2, 4)
"""
from collections import OrderedDict

import numpy as np

from ._module import Module, deserialize, serialize
from .activations import ReLU, Tanh
from .conv import _ConvNd
from .fold import ConvNorm, folds
from .linear import Linear
from .normalization import fuses_relu
from .pooling import _AvgPoolNd, _MaxPoolNd

# layers whose forward returns a new array that they do not keep (they keep their input)
_FRESH = (_ConvNd, Linear)
# layers whose backward returns a new input gradient that they do not keep
_FRESH_GRAD = (_ConvNd, Linear, _AvgPoolNd, _MaxPoolNd)

__all__ = ["Sequential", "Residual", "Concat"]


def _check_module(m, name):
    if not isinstance(m, Module):
        raise TypeError(f"{name} must be a Module, got {type(m).__name__}")
    return m


class Sequential(Module):
    """Layers applied one after the other; ``Sequential(*layers)`` or ``Sequential(OrderedDict)``.

    Children are named ``'0', '1', ...`` (or by the dict's keys); indexing returns a layer, slicing
    a new Sequential sharing the layers; a layer replaced by assignment (``setattr(seq, '1',
    layer)``) takes part at once. A batch normalisation directly followed by a ReLU runs as one
    step (:func:`~convcore.nn.normalization.fuses_relu`): the same numbers in one pass; a ReLU or
    a Tanh after a convolution or a linear layer works in place. A convolution followed by a batch
    normalisation (and a ReLU) is one step (:class:`~convcore.nn.fold.ConvNorm`): in evaluation
    mode the normalisation folds into the convolution's weights.
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, m in items:
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(f"layer names must be non-empty strings without '.', got {name!r}")
            setattr(self, name, _check_module(m, f"layer {name!r}"))
        self._refresh()

    def _refresh(self):
        """The layers in order, and the steps that run them: (layer, keyword arguments of its
        forward call). A batch normalisation applies the ReLU that follows it (``relu=True``),
        which is then skipped; a ReLU after a convolution or a linear layer, whose result is
        fresh and held by nothing else, works in place (``inplace=True``), and so does a Tanh;
        and the backward steps: a ReLU or a Tanh before a layer whose input gradient is fresh (a
        convolution's, a linear or pooling layer's) works in place on it, which saves an array of
        the activation's size and the page faults of a new one."""
        layers = list(self._modules.values())
        steps, i = [], 0
        while i < len(layers):
            layer, kwargs = layers[i], {}
            if i + 1 < len(layers) and folds(layer, layers[i + 1]):
                relu = i + 2 < len(layers) and fuses_relu(layers[i + 1], layers[i + 2])
                steps.append((ConvNorm(layer, layers[i + 1], relu), {}))
                i += 3 if relu else 2
                continue
            if i + 1 < len(layers) and fuses_relu(layer, layers[i + 1]):
                kwargs["relu"] = True
                i += 1
            elif type(layer) in (ReLU, Tanh) and i and isinstance(layers[i - 1], _FRESH):
                kwargs["inplace"] = True
            steps.append((layer, kwargs))
            i += 1
        back = [(layer, {"inplace": True} if type(layer) in (ReLU, Tanh) and j + 1 < len(steps)
                 and isinstance(steps[j + 1][0], _FRESH_GRAD) else {})
                for j, (layer, _) in enumerate(steps)]
        self._layers, self._steps, self._back = layers, steps, back[::-1]

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name not in ("_layers", "_steps", "_back") and "_steps" in self.__dict__:
            self._refresh()  # a layer added, replaced or removed

    def __delattr__(self, name):
        super().__delattr__(name)
        self._refresh()

    def append(self, layer):
        setattr(self, str(len(self._modules)), _check_module(layer, "layer"))
        self._refresh()
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        if isinstance(idx, str):
            return self._modules[idx]
        return self._layers[idx]

    def forward(self, x):
        for layer, kwargs in self._steps:
            x = layer.forward(x, **kwargs)
        return x

    def backward(self, grad_output):
        for layer, kwargs in self._back:
            grad_output = layer.backward(grad_output, **kwargs)
        return grad_output

    def output_shape(self, input_shape):
        for layer in self._layers:
            input_shape = layer.output_shape(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {"layers": [[name, serialize(m)] for name, m in self._modules.items()]}

    @classmethod
    def from_config(cls, config):
        return cls(OrderedDict((name, deserialize(spec)) for name, spec in config["layers"]))


class Residual(Module):
    """``block(x) + shortcut(x)``; the shortcut is the identity when None."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = _check_module(block, "block")
        self.shortcut = None if shortcut is None else _check_module(shortcut, "shortcut")

    def forward(self, x):
        y = self.block.forward(x)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != s.shape:
            raise ValueError(f"block output {y.shape} and shortcut output {s.shape} differ in shape")
        return y + s

    def backward(self, grad_output):
        g = self.block.backward(grad_output)
        if self.shortcut is None:
            return g + grad_output
        return g + self.shortcut.backward(grad_output)

    def output_shape(self, input_shape):
        return self.block.output_shape(input_shape)

    def get_config(self):
        return {"block": serialize(self.block),
                "shortcut": None if self.shortcut is None else serialize(self.shortcut)}

    @classmethod
    def from_config(cls, config):
        sc = config["shortcut"]
        return cls(deserialize(config["block"]), None if sc is None else deserialize(sc))


class Concat(Module):
    """Parallel branches on the same input, outputs joined along ``axis`` (channels by default)."""

    def __init__(self, *branches, axis=1):
        super().__init__()
        if not branches:
            raise ValueError("Concat needs at least one branch")
        for i, b in enumerate(branches):
            setattr(self, str(i), _check_module(b, f"branch {i}"))
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an integer, got {type(axis).__name__}")
        self.axis = int(axis)

    def forward(self, x):
        outs = [b.forward(x) for b in self._modules.values()]
        self._sizes = [o.shape[self.axis] for o in outs]
        return np.concatenate(outs, axis=self.axis)

    def backward(self, grad_output):
        splits = np.cumsum(self._sizes)[:-1]
        parts = np.split(grad_output, splits, axis=self.axis)
        total = None
        for b, g in zip(self._modules.values(), parts):
            gi = b.backward(np.ascontiguousarray(g))
            total = gi if total is None else total + gi
        return total

    def output_shape(self, input_shape):
        shapes = [b.output_shape(input_shape) for b in self._modules.values()]
        out = list(shapes[0])
        out[self.axis] = sum(s[self.axis] for s in shapes)
        return tuple(out)

    def get_config(self):
        return {"branches": [serialize(b) for b in self._modules.values()], "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(*[deserialize(s) for s in config["branches"]], axis=config["axis"])

    def extra_repr(self):
        return f"axis={self.axis}"

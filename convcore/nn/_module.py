"""Parameter and Module: the base of every layer, with PyTorch-style names, state dicts and configs.

A :class:`Module` owns parameters (trainable arrays with a gradient), buffers (arrays that are part
of the state but not trained, e.g. BatchNorm's running statistics) and child modules. ``forward``
caches what ``backward`` needs; ``backward(grad_output)`` returns the gradient with respect to the
input and adds (``+=``) each parameter's gradient into ``Parameter.grad``.
"""
from collections import OrderedDict

import numpy as np

__all__ = ["Parameter", "Module", "register", "get_class", "serialize", "deserialize"]

_REGISTRY = {}


def register(cls):
    """Record a Module subclass under its class name so a saved configuration can rebuild it."""
    _REGISTRY[cls.__name__] = cls
    return cls


def get_class(name):
    """The registered Module subclass called ``name`` (ValueError when unknown)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown layer class {name!r} in model configuration") from None


def serialize(module):
    """``{'class': name, 'config': module.get_config()}``, a JSON-able description of ``module``."""
    return {"class": type(module).__name__, "config": module.get_config()}


def deserialize(spec):
    """Rebuild a module (with fresh parameters) from :func:`serialize`'s output."""
    if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
        raise ValueError("model configuration must be a dict with 'class' and 'config' keys")
    cls = get_class(spec["class"])
    return cls.from_config(spec["config"])


def dtype_name(dtype):
    """The canonical name ('float32' or 'float64') of a floating dtype, checked."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype.name


class Parameter:
    """A trainable array and its gradient.

    Parameters
    ----------
    data : array_like
        The values (kept as a C-contiguous float array).
    trainable : bool
        When False, layers do not accumulate a gradient and optimizers leave it unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> p = Parameter(np.zeros((2, 3), dtype=np.float32))
    >>> p.shape, p.grad is None, p.trainable
    ((2, 3), True, True)
    """

    __slots__ = ("data", "grad", "trainable")

    def __init__(self, data, trainable=True):
        data = np.ascontiguousarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"data must be a floating array, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.trainable = bool(trainable)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def accumulate(self, grad):
        """Add ``grad`` into :attr:`grad` (nothing when the parameter is frozen)."""
        if not self.trainable:
            return
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def zero_grad(self):
        self.grad = None

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype.name}, trainable={self.trainable})"


class Module:
    """Base class of layers and models.

    Subclasses set parameters and child modules as attributes (they are registered automatically, in
    order) and buffers with :meth:`register_buffer`; they implement ``forward``, ``backward``,
    ``get_config`` and, for :meth:`summary`, ``output_shape``. Every subclass is recorded by class
    name when it is defined, so :func:`convcore.io.load` can rebuild it: ``get_config()`` must
    return the JSON-able constructor arguments (child modules through :func:`serialize`, with a
    matching ``from_config`` classmethod that calls :func:`deserialize`).

    Every model has ``fit``, ``evaluate``, ``predict``, ``predict_proba``, ``summary`` and ``save``,
    the free functions of :mod:`convcore.training` and :mod:`convcore.io` as methods. This module
    imports neither (both import ``nn``): ``convcore/_model.py``, above the three, adds the methods
    when convcore is imported, so a layer reads and tests without the training loop or the files.

    Examples
    --------
    >>> from convcore.nn import Sequential, Linear, ReLU
    >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> model.get_submodule('2')
    Linear(in_features=8, out_features=2, bias=True)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    # -- attribute registration -------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("Module.__init__() must be called before assigning attributes")
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        elif name in buffers:
            buffers[name] = value
            return
        elif value is None and (name in params or name in modules):
            params.pop(name, None)
            modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        if name in self.__dict__:
            object.__delattr__(self, name)

    def register_buffer(self, name, array):
        """Register a non-trained state array (saved in :meth:`state_dict`)."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"buffer name must be a non-empty string without '.', got {name!r}")
        self._buffers[name] = np.asarray(array)

    # -- computation -------------------------------------------------------------------------
    def forward(self, x):
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_output):
        raise TypeError(f"{type(self).__name__} does not define backward()")

    def __call__(self, x):
        return self.forward(x)

    def output_shape(self, input_shape):
        """Shape of the output for an input of ``input_shape`` (batch axis included); by default
        the shape is unchanged."""
        return tuple(input_shape)

    # -- modes and freezing ----------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (Dropout active, BatchNorm uses batch statistics) on every module."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode on every module."""
        return self.train(False)

    @property
    def trainable(self):
        """True when at least one parameter below is trainable; setting it (un)freezes them all."""
        return any(p.trainable for p in self.parameters())

    @trainable.setter
    def trainable(self, value):
        for p in self.parameters():
            p.trainable = bool(value)
            if not value:
                p.grad = None

    def zero_grad(self):
        """Clear every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    # -- traversal ---------------------------------------------------------------------------
    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_modules(self, prefix=""):
        """Iterate ``(dotted_name, module)`` over this module (name ``prefix``) and all below."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    def _named(self, table, prefix):
        """Iterate ``(dotted_name, value)`` over the entries of every module's `table`."""
        for mod_name, module in self.named_modules(prefix):
            for name, value in getattr(module, table).items():
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix=""):
        """Iterate ``(dotted_name, Parameter)`` with PyTorch's names, e.g. ``'features.0.weight'``."""
        return self._named("_parameters", prefix)

    def parameters(self):
        """All parameters, in registration order."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Iterate ``(dotted_name, ndarray)`` over buffers, e.g. ``'bn1.running_mean'``."""
        return self._named("_buffers", prefix)

    def get_submodule(self, target):
        """The module at dotted path ``target`` (``''`` is this module)."""
        if not isinstance(target, str):
            raise TypeError(f"target must be a string, got {type(target).__name__}")
        module = self
        if target == "":
            return module
        for part in target.split("."):
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (in {target!r})")
            module = module._modules[part]
        return module

    def num_parameters(self, trainable_only=False):
        """Number of scalar parameters (only trainable ones with ``trainable_only``)."""
        return int(sum(p.size for p in self.parameters() if p.trainable or not trainable_only))

    @property
    def dtype(self):
        """The dtype of the first parameter (float32 when the model has none)."""
        for p in self.parameters():
            return p.data.dtype
        return np.dtype(np.float32)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self):
        """OrderedDict of copies of every parameter and buffer under PyTorch-style dotted names."""
        state = OrderedDict()
        for mod_name, module in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                state[pre + name] = p.data.copy()
            for name, b in module._buffers.items():
                state[pre + name] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into parameters and buffers (same names and shapes).

        With ``strict`` every key must match; otherwise missing and unexpected keys are ignored.
        A shape mismatch is always an error. Returns ``(missing_keys, unexpected_keys)``.
        """
        targets = OrderedDict()
        for mod_name, module in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name in module._parameters:
                targets[pre + name] = (module, name, True)
            for name in module._buffers:
                targets[pre + name] = (module, name, False)
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        bad = []
        for key, (module, name, is_param) in targets.items():
            if key in state:
                current = module._parameters[name].data if is_param else module._buffers[name]
                if np.shape(state[key]) != np.shape(current):
                    bad.append(f"{key}: expected {tuple(np.shape(current))}, got {tuple(np.shape(state[key]))}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if bad:
            problems.append("mis-shaped keys: " + "; ".join(bad))
        if problems:
            raise ValueError("load_state_dict: " + " | ".join(problems))
        for key, (module, name, is_param) in targets.items():
            if key not in state:
                continue
            if is_param:
                p = module._parameters[name]
                p.data = np.ascontiguousarray(state[key], dtype=p.data.dtype).copy()
                p.grad = None
            else:
                old = module._buffers[name]
                module._buffers[name] = np.array(state[key], dtype=np.asarray(old).dtype, copy=True)
        return missing, unexpected

    # -- description -------------------------------------------------------------------------
    def get_config(self):
        """JSON-able constructor arguments; ``type(self).from_config(config)`` rebuilds the layer."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

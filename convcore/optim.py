"""Optimizers (SGD with momentum/Nesterov/weight decay, Adam, AdamW), learning-rate schedules
(StepLR, CosineAnnealingLR) and gradient clipping, with PyTorch's update rules.

Optimizers update ``Parameter.data`` in place from ``Parameter.grad``; parameters that are frozen
(``trainable`` False) or have no gradient are left unchanged.

Examples
--------
>>> import numpy as np
>>> from convcore.nn import Parameter
>>> p = Parameter(np.array([1.0, -2.0]))
>>> p.grad = np.array([0.5, 0.5])
>>> opt = SGD([p], lr=0.1)
>>> opt.step()
>>> p.data
array([ 0.95, -2.05])
"""
import math

import numpy as np

from ._kernels import optim as _optim
from ._threads import threads_for

# Elements a thread should have to update before a second one is worth waking.
_GRAIN = 1 << 16

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "StepLR", "CosineAnnealingLR", "clip_grad_norm"]


def _params(params):
    from .nn import Module, Parameter
    if isinstance(params, Module):
        params = params.parameters()
    params = list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"params must be Parameters (or a Module), got {type(p).__name__}")
    # a parameter shared by two layers is updated once (PyTorch's Module.parameters() lists it
    # once); a step updates all parameters at once, so a second copy would also race
    params = list({id(p): p for p in params}.values())
    if not params:
        raise ValueError("params is empty: the optimizer has nothing to update")
    return params


def _flat(p, g):
    """p.data and g as 1-D views of C-contiguous arrays of p's dtype, for the compiled updates."""
    if not p.data.flags.c_contiguous or not p.data.flags.writeable:
        p.data = np.array(p.data, order="C")
    return p.data.reshape(-1), np.ascontiguousarray(g, dtype=p.data.dtype).reshape(-1)


def _non_negative(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a non-negative finite number, got {value}")
    return float(value)


class Optimizer:
    """Base class: holds ``params`` (a Module or Parameters), the learning rate ``lr`` and per-
    parameter state; ``step()`` applies one update, ``zero_grad()`` clears the gradients."""

    def __init__(self, params, lr):
        self.params = _params(params)
        self.lr = _non_negative(lr, "lr")
        self.state = [dict() for _ in self.params]
        self.step_count = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def _active(self):
        for p, st in zip(self.params, self.state):
            if p.trainable and p.grad is not None:
                yield p, p.grad, st

    def step(self):
        """Apply one update to every trainable parameter that has a gradient."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule: ``g = grad + weight_decay * p``; with momentum
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` at the first step), then ``g = b`` or, with
    ``nesterov``, ``g = g + momentum * b``; ``p -= lr * g``."""

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = _non_negative(momentum, "momentum")
        self.dampening = _non_negative(dampening, "dampening")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov needs a positive momentum and zero dampening")

    def step(self):
        """One update of every parameter with a gradient: all of them in one parallel pass per
        dtype (``_optim.sgd_all``), the same bits as one by one."""
        self.step_count += 1
        groups = {}  # dtype: (parameters, gradients, momentum buffers, first-step flags)
        for p, g, st in self._active():
            data, g = _flat(p, g)
            buf = st.get("momentum")
            first = buf is None
            if first and self.momentum:
                buf = st["momentum"] = np.empty_like(p.data)
            group = groups.setdefault(data.dtype, ([], [], [], []))
            for lst, item in zip(group, (data, g, data[:0] if buf is None else buf.reshape(-1),
                                         first)):
                lst.append(item)
        for ps, gs, bufs, first in groups.values():
            _optim.sgd_all(ps, gs, bufs, np.array(first, dtype=np.uint8), self.lr, self.momentum,
                           self.dampening, self.weight_decay, self.nesterov,
                           threads_for(sum(p.size for p in ps), _GRAIN))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds ``weight_decay * p`` to the
    gradient (L2), as ``torch.optim.Adam`` does."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _non_negative(eps, "eps")
        self.weight_decay = _non_negative(weight_decay, "weight_decay")

    def step(self):
        """One update of every parameter with a gradient: all of them in one parallel pass per
        dtype (``_optim.adam_all``), the same bits as one by one."""
        self.step_count += 1
        groups = {}  # dtype: (parameters, gradients, first moments, second moments, steps)
        for p, g, st in self._active():
            data, g = _flat(p, g)
            if "m" not in st:
                st["m"] = np.zeros_like(p.data)
                st["v"] = np.zeros_like(p.data)
                st["t"] = 0
            st["t"] += 1
            group = groups.setdefault(data.dtype, ([], [], [], [], []))
            for lst, item in zip(group, (data, g, st["m"].reshape(-1), st["v"].reshape(-1),
                                         st["t"])):
                lst.append(item)
        for ps, gs, ms, vs, steps in groups.values():
            _optim.adam_all(ps, gs, ms, vs, np.array(steps, dtype=np.intp), self.lr,
                            self.betas[0], self.betas[1], self.eps, self.weight_decay,
                            self._decoupled, threads_for(sum(p.size for p in ps), _GRAIN))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay`` before
    the Adam step (default ``weight_decay=0.01``, as PyTorch)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class _Scheduler:
    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def step(self):
        """Advance one epoch and set the optimizer's learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr(self.last_epoch)
        return self.optimizer.lr


class StepLR(_Scheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``.

    >>> from convcore.nn import Linear
    >>> sched = StepLR(SGD(Linear(2, 2), lr=1.0), step_size=2, gamma=0.5)
    >>> [sched.step() for _ in range(4)]
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _non_negative(gamma, "gamma")

    def get_lr(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"T_max must be a positive integer, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = _non_negative(eta_min, "eta_min")

    def get_lr(self, epoch):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so their global ``norm_type`` norm is at most ``max_norm``.

    Returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``: the scale is
    ``max_norm / (norm + 1e-6)`` when below 1).

    >>> import numpy as np
    >>> from convcore.nn import Parameter
    >>> p = Parameter(np.zeros(2)); p.grad = np.array([3.0, 4.0])
    >>> clip_grad_norm([p], 1.0)
    5.0
    >>> np.round(p.grad, 6)
    array([0.6, 0.8])
    """
    max_norm = _non_negative(max_norm, "max_norm")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be positive, got {norm_type}")
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads) ** (1 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= g.dtype.type(coef)
    return total

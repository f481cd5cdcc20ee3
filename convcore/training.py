"""Training loop and model utilities: fit, evaluate, predict, predict_proba, summary, callbacks.

Every :class:`convcore.nn.Module` has these as methods (``model.fit(X, y, ...)``). ``fit`` runs
mini-batch training with a loss from :mod:`convcore.losses` and an optimizer from
:mod:`convcore.optim`, shows a tqdm progress bar with the running loss and accuracy when tqdm is
installed (one plain line per epoch otherwise) and returns a :class:`History`.

Examples
--------
>>> import numpy as np
>>> from convcore import nn
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((200, 2)).astype(np.float32)
>>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
>>> nn.init.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
>>> history = model.fit(X, y, epochs=20, batch_size=20, seed=0, verbose=0, lr=0.01)
>>> history.history['accuracy'][-1] > 0.95
True
>>> model.predict(X[:3]), y[:3]
(array([0, 1, 0]), array([0, 1, 0]))
"""
import math
import sys
import time

import numpy as np

from . import losses as _losses
from .functional.losses import softmax as _softmax
from ._dask import dask_aware
from . import optim as _optim
from .nn import init as _init
from .nn._module import Module
from .nn.containers import Sequential

__all__ = ["History", "Callback", "EarlyStopping", "ModelCheckpoint", "fit", "evaluate", "predict",
           "predict_proba", "summary"]


class History:
    """Per-epoch metrics of one :func:`fit` call: ``history['loss']``, ``'accuracy'``,
    ``'val_loss'``, ``'val_accuracy'``, ``'lr'`` and ``'time'`` (seconds), as lists."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, metrics=[{keys}])"


# -- callbacks -----------------------------------------------------------------------------------

class Callback:
    """Base class: override ``on_train_begin(model)``, ``on_epoch_end(model, epoch, logs)`` (set
    ``model.stop_training = True`` to stop) and ``on_train_end(model)``."""

    def on_train_begin(self, model):
        pass

    def on_epoch_end(self, model, epoch, logs):
        pass

    def on_train_end(self, model):
        pass


class _Monitor(Callback):
    def __init__(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(float(min_delta))
        self.best = None

    def _value(self, logs):
        if self.monitor not in logs:
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which is not among "
                             f"the epoch's metrics {sorted(logs)} (pass validation_data for 'val_*')")
        return logs[self.monitor]

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` the weights of the best epoch are put back at the end."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer, got {patience!r}")
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, model):
        self.best, self.wait, self.best_epoch, self.stopped_epoch = None, 0, None, None
        self._best_state = None

    def on_epoch_end(self, model, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = model.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model):
        if self.restore_best_weights and self._best_state is not None:
            model.load_state_dict(self._best_state)


class ModelCheckpoint(_Monitor):
    """Save the model (``model.save``) after an epoch: only when ``monitor`` improved with
    ``save_best_only`` (default), else every epoch. ``filepath`` may hold ``{epoch}`` and metric
    fields, e.g. ``'model-{epoch:02d}-{val_loss:.3f}.npz'``."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=True, mode="auto"):
        super().__init__(monitor, mode)
        self.filepath = str(filepath)
        self.save_best_only = bool(save_best_only)
        self.saved = []

    def on_train_begin(self, model):
        self.best = None

    def on_epoch_end(self, model, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch, **logs)
        model.save(path)
        self.saved.append(path)


# -- helpers -------------------------------------------------------------------------------------

def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def _as_inputs(model, X, name="X"):
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, ...), got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=model.dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _as_targets(y, n, loss, dtype, name="y"):
    y = np.asarray(y)
    if y.shape[:1] != (n,):
        raise ValueError(f"{name} must have {n} rows to match the inputs, got shape {y.shape}")
    if isinstance(loss, (_losses.CrossEntropyLoss, _losses.NLLLoss)):
        if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            raise ValueError(f"{name} must hold integer class labels for cross-entropy")
        return y.astype(np.int64)
    return np.ascontiguousarray(y, dtype=dtype)


def _default_loss(y):
    y = np.asarray(y)
    return _losses.CrossEntropyLoss() if y.ndim == 1 and y.dtype.kind in "iub" else _losses.MSELoss()


def _make_optimizer(model, optimizer, lr):
    if isinstance(optimizer, _optim.Optimizer):
        return optimizer
    names = {"sgd": _optim.SGD, "adam": _optim.Adam, "adamw": _optim.AdamW}
    if optimizer is None:
        optimizer = "adam"
    if not isinstance(optimizer, str) or optimizer.lower() not in names:
        raise ValueError(f"optimizer must be an Optimizer or one of {sorted(names)}, got {optimizer!r}")
    return names[optimizer.lower()](model, lr=1e-3 if lr is None else lr)


def _n_correct(task, out, y):
    if task == "classification":
        return int(np.count_nonzero(out.argmax(axis=1) == y))
    if task == "binary":
        return int(np.count_nonzero((out > 0) == (y.reshape(out.shape) > 0.5)))
    return 0


def _first_leaf(model):
    while isinstance(model, Sequential) and len(model):
        model = model[0]
    return model


def _forward_batches(model, X, batch_size):
    was_training = model.training
    model.eval()
    try:
        outs = [model.forward(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)


class _Progress:
    """tqdm bar over an epoch's batches when tqdm is installed and verbose == 1, plain lines else."""

    def __init__(self, verbose, epochs):
        self.verbose, self.epochs, self.bar = verbose, epochs, None
        self.tqdm = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
                self.tqdm = tqdm
            except ImportError:
                self.tqdm = None

    def start(self, epoch, n_batches):
        if self.tqdm is not None:
            self.bar = self.tqdm(total=n_batches, desc=f"Epoch {epoch}/{self.epochs}",
                                 unit="batch", leave=True, file=sys.stderr)

    def update(self, loss, acc):
        if self.bar is not None:
            post = {"loss": f"{loss:.4f}"}
            if acc is not None:
                post["accuracy"] = f"{acc:.4f}"
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)

    def end(self, epoch, logs):
        shown = {k: v for k, v in logs.items() if k not in ("lr", "time")}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()})
            self.bar.close()
            self.bar = None
        elif self.verbose:
            parts = " - ".join(f"{k} {v:.4f}" for k, v in shown.items())
            print(f"Epoch {epoch}/{self.epochs} - {parts} - {logs['time']:.2f} s", flush=True)


# -- public functions ------------------------------------------------------------------------------

def fit(model, X, y, epochs=1, batch_size=32, validation_data=None, callbacks=None, seed=None,
        verbose=1, loss=None, optimizer=None, lr=None, scheduler=None, shuffle=True,
        clip_norm=None):
    """Train ``model`` on ``(X, y)`` by mini-batch gradient descent.

    Parameters
    ----------
    model : convcore.nn.Module
    X : array_like, shape (N, ...)
        Inputs (converted to the model's dtype).
    y : array_like, shape (N, ...)
        Integer class labels (cross-entropy, the default for 1-D integer ``y``) or targets.
    epochs, batch_size : int
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch (``val_loss``, ``val_accuracy``).
    callbacks : list of Callback, optional
        E.g. :class:`EarlyStopping`, :class:`ModelCheckpoint`.
    seed : int, optional
        Seeds the shuffling and Dropout masks (through :func:`convcore.nn.init.manual_seed`).
    verbose : {0, 1, 2}
        0 silent, 1 a tqdm progress bar per epoch (plain lines without tqdm), 2 one line per epoch.
    loss : Loss or str, optional
        Default: cross-entropy for integer labels, mean squared error otherwise. Kept on the model
        (it decides what :func:`predict` returns).
    optimizer : Optimizer or {'adam', 'adamw', 'sgd'}, optional
        Default Adam; ``lr`` (default 1e-3) is used when it is built from a name. The optimizer is
        kept on the model, so a later ``fit`` continues with its state.
    scheduler : learning-rate schedule from :mod:`convcore.optim`, optional
        Stepped after every epoch.
    shuffle : bool
    clip_norm : float, optional
        Clip the global gradient norm before each step.

    Returns
    -------
    History
        The model is left in evaluation mode (``model.train()`` switches back).

    Raises
    ------
    FloatingPointError
        When the loss becomes NaN or infinite (the message says at which epoch and batch).
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a convcore.nn.Module, got {type(model).__name__}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    X = _as_inputs(model, X)
    n = X.shape[0]
    if loss is None:
        loss = model.__dict__.get("_loss") or _default_loss(y)
    loss = _losses.get_loss(loss)
    if getattr(loss, "reduction", "mean") == "none":
        raise ValueError("loss must reduce to one number to train on: reduction='mean' or 'sum', "
                         "got reduction='none'")
    y = _as_targets(y, n, loss, model.dtype)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        Xv = _as_inputs(model, validation_data[0], "X_val")
        val = (Xv, _as_targets(validation_data[1], Xv.shape[0], loss, model.dtype, "y_val"))
    if optimizer is None and isinstance(model.__dict__.get("_optimizer"), _optim.Optimizer) and lr is None:
        optimizer = model.__dict__["_optimizer"]
    optimizer = _make_optimizer(model, optimizer, lr)
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    model._loss, model._optimizer, model._task = loss, optimizer, loss.task
    model._input_shape = tuple(X.shape[1:])
    rng = np.random.default_rng(seed)
    if seed is not None:
        _init.manual_seed(seed)

    task = loss.task
    params = model.parameters()
    first = _first_leaf(model)
    skip_input = hasattr(first, "need_input_grad")
    if skip_input:
        first.need_input_grad = False
    history = History()
    progress = _Progress(verbose, epochs)
    model.stop_training = False
    model.train()
    for cb in callbacks:
        cb.on_train_begin(model)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            n_batches = -(-n // batch_size)
            progress.start(epoch, n_batches)
            total_loss, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = X[idx], y[idx]
                with np.errstate(over="ignore", invalid="ignore"):  # reported just below
                    out = model.forward(xb)
                    value = loss(out, yb)
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"loss became {value} at epoch {epoch}, batch {b + 1}: training diverged; "
                        f"lower the learning rate, clip gradients (clip_norm) or check the data")
                for p in params:
                    p.grad = None
                with np.errstate(over="ignore", invalid="ignore"):  # a NaN shows in the next loss
                    model.backward(loss.backward())
                    if clip_norm is not None:
                        _optim.clip_grad_norm(params, clip_norm)
                    optimizer.step()
                m = len(idx)
                total_loss += value * m
                correct += _n_correct(task, out, yb)
                seen += m
                progress.update(total_loss / seen, correct / seen if task != "regression" else None)
            logs = {"loss": total_loss / seen}
            if task != "regression":
                logs["accuracy"] = correct / seen
            if val is not None:
                for key, v in evaluate(model, *val, loss=loss).items():
                    logs["val_" + key] = v
            logs["lr"] = optimizer.lr
            if scheduler is not None:
                scheduler.step()
            logs["time"] = time.perf_counter() - t0
            progress.end(epoch, logs)
            history.append(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(model, epoch, logs)
            if model.stop_training:
                break
    finally:
        if progress.bar is not None:
            progress.bar.close()
        if skip_input:
            first.need_input_grad = True
    for cb in callbacks:
        cb.on_train_end(model)
    model.eval()
    return history


def evaluate(model, X, y, batch_size=256, loss=None):
    """Mean loss (and accuracy for classifiers) of ``model`` on ``(X, y)`` in evaluation mode.

    Returns a dict ``{'loss': ..., 'accuracy': ...}`` (no accuracy for regression losses).
    """
    batch_size = _positive_int(batch_size, "batch_size")
    X = _as_inputs(model, X)
    if loss is None:
        loss = model.__dict__.get("_loss") or _default_loss(y)
    loss = _losses.get_loss(loss)
    y = _as_targets(y, X.shape[0], loss, model.dtype)
    out = _forward_batches(model, X, batch_size)
    result = {"loss": loss(out, y)}
    if loss.task != "regression":
        result["accuracy"] = _n_correct(loss.task, out, y) / X.shape[0]
    return result


def _task(model):
    return model.__dict__.get("_task")


@dask_aware("X")
def predict(model, X, batch_size=256):
    """Outputs of ``model`` for ``X`` in evaluation mode, batched.

    For a model trained with cross-entropy the predicted class labels (argmax), with binary
    cross-entropy the labels 0/1 (logit > 0); otherwise the raw outputs.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    out = _forward_batches(model, _as_inputs(model, X), batch_size)
    task = _task(model)
    if task == "classification":
        return out.argmax(axis=1)
    if task == "binary":
        labels = (out > 0).astype(np.int64)
        return labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    return out


@dask_aware("X")
def predict_proba(model, X, batch_size=256):
    """Class probabilities: softmax of the logits, or for one binary logit per sample the two
    columns ``[1 - p, p]`` with ``p = sigmoid(logit)`` (scikit-learn's layout)."""
    batch_size = _positive_int(batch_size, "batch_size")
    out = _forward_batches(model, _as_inputs(model, X), batch_size)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1) or _task(model) == "binary":
        z = out.reshape(out.shape[0], -1) if out.ndim > 1 else out[:, None]
        p = np.exp(-np.logaddexp(0, -z)).astype(out.dtype)
        return np.concatenate([1 - p, p], axis=1) if p.shape[1] == 1 else p
    if out.ndim != 2:
        raise ValueError(f"predict_proba needs (N, C) logits, the model outputs shape {out.shape}")
    return _softmax(out, dim=1)


class _Table(str):
    """A string that shows itself as is in the interactive interpreter."""

    def __repr__(self):
        return str(self)


def _rows(module, prefix, shape, rows):
    if isinstance(module, Sequential):
        for name, child in module.named_children():
            shape = _rows(child, f"{prefix}.{name}" if prefix else name, shape, rows)
        return shape
    shape = module.output_shape(shape)
    rows.append((f"{prefix} ({type(module).__name__})", shape, module.num_parameters()))
    return shape


def summary(model, input_shape=None):
    """Table of layers (dotted name and type), output shapes and parameter counts.

    ``input_shape`` is one sample's shape, without the batch axis (default: the shape seen by the
    last ``fit``). Output shapes are shown with ``None`` for the batch axis.

    Examples
    --------
    >>> from convcore import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ...                       nn.Flatten(), nn.Linear(64, 10))
    >>> model.summary((1, 8, 8))
    Layer (type)        Output Shape            Param #
    ===================================================
    0 (Conv2d)          (None, 4, 8, 8)              40
    1 (ReLU)            (None, 4, 8, 8)               0
    2 (MaxPool2d)       (None, 4, 4, 4)               0
    3 (Flatten)         (None, 64)                    0
    4 (Linear)          (None, 10)                  650
    ===================================================
    Total params: 690
    Trainable params: 690
    Non-trainable params: 0
    """
    if input_shape is None:
        input_shape = model.__dict__.get("_input_shape")
        if input_shape is None:
            raise ValueError("input_shape is required (one sample's shape, e.g. (1, 28, 28)) "
                             "until the model has been fitted")
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (input_shape,)
    input_shape = tuple(int(s) for s in input_shape)
    rows = []
    _rows(model, "", (1,) + input_shape, rows)
    table = [("Layer (type)", "Output Shape", "Param #")]
    for name, shape, count in rows:
        table.append((name, "(" + ", ".join(["None"] + [str(s) for s in shape[1:]]) + ")", f"{count:,}"))
    w0 = max(20, max(len(r[0]) for r in table) + 1)
    w1 = max(22, max(len(r[1]) for r in table) + 1)
    w2 = max(9, max(len(r[2]) for r in table))
    width = w0 + w1 + w2
    lines = []
    for i, (a, b, c) in enumerate(table):
        lines.append(f"{a:<{w0}}{b:<{w1}}{c:>{w2}}")
        if i == 0:
            lines.append("=" * width)
    total = model.num_parameters()
    trainable = model.num_parameters(trainable_only=True)
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    return _Table("\n".join(lines))

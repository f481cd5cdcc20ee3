"""ConvNetClassifier and ConvNetRegressor: convcore networks as scikit-learn estimators."""
import contextlib
import copy
import inspect
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .. import _threads, nn
from ..losses import get_loss
from ..nn import init as _init
from ..training import EarlyStopping
from ..training import predict as _predict
from ..training import predict_proba as _predict_proba
from ._network import build_network
from ._weights import SampleWeighted, pack

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # scikit-learn 1.4, 1.5: the same work is a method
    def _validate_data(estimator, X, y="no_validation", reset=True, **kwargs):
        if "ensure_all_finite" in kwargs:
            kwargs["force_all_finite"] = kwargs.pop("ensure_all_finite")
        return estimator._validate_data(X, y, reset=reset, **kwargs)

__all__ = ["ConvNetClassifier", "ConvNetRegressor"]

_OPTIMIZERS = ("adam", "adamw", "sgd")
_PREFIX = "module__"


@contextlib.contextmanager
def _call_limits(threads, seed):
    """For one call: convcore's generator seeded with ``seed`` and, when ``threads`` is given,
    the kernels and BLAS on that many threads. Everything is put back afterwards."""
    saved_rng = _init.get_rng()
    _init.manual_seed(seed)
    try:
        if threads is None:
            yield
            return
        saved_threads = _threads._setting
        _threads.set_num_threads(threads)
        try:
            with _threads.blas_threads(threads):
                yield
        finally:
            _threads.set_num_threads(saved_threads)
    finally:
        _init.manual_seed(saved_rng)  # default_rng(generator) is that same generator


def _pack(model):
    """The network as arrays plus its JSON description, when that rebuilds it (the zoo and every
    layer of convcore do); otherwise the object itself."""
    spec = nn.serialize(model)
    try:
        nn.deserialize(spec).load_state_dict(model.state_dict())
    except (TypeError, ValueError, KeyError):
        return model
    return {"architecture": spec, "arrays": model.state_dict(),
            "frozen": [name for name, p in model.named_parameters() if not p.trainable],
            "task": model.__dict__.get("_task"), "loss": model.__dict__.get("_loss")}


def _unpack(packed):
    if isinstance(packed, nn.Module):
        return packed
    model = nn.deserialize(packed["architecture"])
    model.load_state_dict(packed["arrays"])
    for name, p in model.named_parameters():
        p.trainable = name not in packed["frozen"]
    model._task, model._loss = packed["task"], packed["loss"]
    return model.eval()


def _batch_size(model, n, batch_size):
    """``batch_size``, grown until no batch holds a single sample when the network has batch
    normalisation (which cannot normalise one sample in training)."""
    if any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules()):
        while n > batch_size and n % batch_size == 1:
            batch_size += 1
    return batch_size


class _ConvNetBase(BaseEstimator):
    """What the classifier and the regressor share; see :class:`ConvNetClassifier`."""

    def __init__(self, module=None, *, input_shape=None, conv_layers=2, filters=8, kernel_size=3,
                 stride=1, padding="same", pooling="max", dense_layers=1, units=32,
                 activation="relu", dropout=0.0, batch_norm=False, optimizer="adam",
                 learning_rate=1e-3, batch_size=32, epochs=10, early_stopping=False,
                 validation_fraction=0.1, patience=5, dtype="float32", random_state=None,
                 verbose=0, threads=None, **module_params):
        self.module = module
        self.input_shape = input_shape
        self.conv_layers = conv_layers
        self.filters = filters
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.pooling = pooling
        self.dense_layers = dense_layers
        self.units = units
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.threads = threads
        self._module_params = dict(module_params)

    # -- parameters: the constructor's plus the module__ ones routed to the network --------------
    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self.__dict__.get("_module_params", {}))
        return params

    def set_params(self, **params):
        routed = {k: params.pop(k) for k in list(params) if k.startswith(_PREFIX)}
        super().set_params(**params)
        self._module_params.update(routed)
        return self

    def _check_settings(self):
        unknown = [k for k in self._module_params if not k.startswith(_PREFIX)]
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r} for {type(self).__name__}; "
                             f"valid are {sorted(super().get_params(deep=False))} and "
                             f"'{_PREFIX}<name>' for the module's own arguments")
        if self._module_params and self.module is None:
            raise ValueError(f"{sorted(self._module_params)[0]!r} is routed to the module, but "
                             f"module is None (give a network or a callable returning one)")
        for name in ("batch_size", "epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < (name != "patience"):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'patience' else 'positive'} "
                                 f"integer, got {value!r}")
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be a positive number, got {lr!r}")
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(_OPTIMIZERS)}, got {self.optimizer!r}")
        vf = self.validation_fraction
        if self.early_stopping and (isinstance(vf, bool) or not isinstance(vf, numbers.Real) or not 0 < vf < 1):
            raise ValueError(f"validation_fraction must lie strictly between 0 and 1, got {vf!r}")
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        t = self.threads
        if t is not None and (isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1):
            raise ValueError(f"threads must be a positive integer or None, got {t!r}")
        return int(t) if t is not None else None

    # -- data --------------------------------------------------------------------------------
    def _check_X(self, X, y="no_validation", reset=True):
        kwargs = dict(allow_nd=True, dtype=(np.float64, np.float32), ensure_all_finite=True)
        if isinstance(y, str) and y == "no_validation":
            X = _validate_data(self, X, reset=reset, **kwargs)
        else:
            X, y = _validate_data(self, X, y, reset=reset, multi_output=self._multi_output, **kwargs)
        if reset:
            self.sample_shape_ = self._sample_shape(X)
        elif X.shape[1:] != self.sample_shape_ and (X.ndim > 2 or X.shape[1] != np.prod(self.sample_shape_)):
            raise ValueError(f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} was "
                             f"fitted on samples of shape {self.sample_shape_}")
        X = X.reshape((X.shape[0],) + self.sample_shape_).astype(self.dtype, copy=False)
        return X if isinstance(y, str) and y == "no_validation" else (X, y)

    def _sample_shape(self, X):
        if X.ndim > 2:
            if self.input_shape is not None and tuple(self.input_shape) != X.shape[1:]:
                raise ValueError(f"input_shape={self.input_shape!r} disagrees with the samples of "
                                 f"X, shaped {X.shape[1:]}")
            return X.shape[1:]
        if self.input_shape is None:  # a row of features is a 1-channel 1-D signal
            return (1, X.shape[1])
        shape = self.input_shape
        if (not isinstance(shape, (tuple, list)) or not 2 <= len(shape) <= 4
                or not all(isinstance(s, numbers.Integral) and s > 0 for s in shape)):
            raise ValueError(f"input_shape must be (channels, *spatial) with 1 to 3 spatial axes, "
                             f"got {shape!r}")
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"input_shape={tuple(shape)!r} holds {int(np.prod(shape))} values, "
                             f"but X has {X.shape[1]} features")
        return tuple(int(s) for s in shape)

    # -- the network ---------------------------------------------------------------------------
    def _build(self, n_outputs):
        if self.module is None:
            return build_network(self.get_params(deep=False), self.sample_shape_, n_outputs, self.dtype)
        if isinstance(self.module, nn.Module):
            if self._module_params:
                raise ValueError(f"{sorted(self._module_params)[0]!r} needs module to be a callable "
                                 f"that builds the network, not a built network")
            return copy.deepcopy(self.module)
        if not callable(self.module):
            raise ValueError(f"module must be a convcore.nn.Module, a callable returning one or "
                             f"None, got {type(self.module).__name__}")
        kwargs = {k[len(_PREFIX):]: v for k, v in self._module_params.items()}
        try:
            accepted = inspect.signature(self.module).parameters
        except (TypeError, ValueError):
            accepted = {}
        defaults = {"num_classes": n_outputs, "in_channels": self.sample_shape_[0]}
        for name, value in defaults.items():
            if name in accepted and name not in kwargs:
                kwargs[name] = value
        try:
            model = self.module(**kwargs)
        except TypeError as exc:
            raise ValueError(f"module={getattr(self.module, '__name__', self.module)!r} refused the "
                             f"routed parameters {sorted('module__' + k for k in kwargs)}: {exc}") from exc
        if not isinstance(model, nn.Module):
            raise ValueError(f"module must return a convcore.nn.Module, got {type(model).__name__}")
        return model

    def _seeds(self):
        rng = check_random_state(self.random_state)
        return [int(s) for s in rng.randint(0, 2**31 - 1, size=2)]

    def _train(self, model, X, y, epochs, first, seed, loss, stratify=None):
        """Train ``model`` for ``epochs`` and return its History; ``first`` builds the optimizer."""
        validation, callbacks = None, []
        if first and self.early_stopping:
            try:
                X, Xv, y, yv = train_test_split(X, y, test_size=self.validation_fraction,
                                                random_state=seed, stratify=stratify)
            except ValueError as exc:
                raise ValueError(f"validation_fraction={self.validation_fraction!r} cannot split "
                                 f"{len(X)} samples: {exc}") from exc
            validation = (Xv, yv)
            callbacks.append(EarlyStopping("val_loss", patience=self.patience, restore_best_weights=True))
        kwargs = {}
        if first or "_optimizer" not in model.__dict__:  # an unpickled network brings no optimizer
            kwargs = dict(optimizer=self.optimizer.lower(), lr=float(self.learning_rate))
        return model.fit(X, y, epochs=epochs, batch_size=_batch_size(model, len(X), self.batch_size),
                         validation_data=validation,
                         callbacks=callbacks, seed=seed, verbose=self.verbose, loss=loss,
                         **kwargs)

    def _record(self, history, append):
        logs = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        if append:
            for k, vals in logs.items():
                self.history_.setdefault(k, []).extend(vals)
        else:
            self.history_ = logs
        self.n_iter_ = len(self.history_["loss"])

    def _forget(self):
        """A failing fit must not leave the previous fit's network behind, ready to predict."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _fit(self, X, y, epochs, first, classes=None, sample_weight=None):
        threads = self._check_settings()
        if first:
            self._forget()
        X, y = self._check_X(X, y, reset=first)
        y, n_outputs, stratify = self._targets(y, first, classes)
        loss = self._loss()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if np.any(sample_weight < 0) or not sample_weight.sum() > 0:
                raise ValueError("sample_weight must be non-negative and not all zero")
            if np.ptp(sample_weight) > 0:  # equal weights: the weighted mean is the plain mean
                y, loss = pack(y, sample_weight), SampleWeighted(loss)
        init_seed, fit_seed = self._seeds()
        with _call_limits(threads, init_seed):
            model = self._build(n_outputs) if first else self.model_
            history = self._train(model, X, y, epochs, first, fit_seed + (0 if first else self.n_iter_),
                                  loss, stratify)
        model._loss = get_loss(self._loss())  # what predict() and model.save() go by
        model._task = model._loss.task
        self.model_ = model
        self._record(history, append=not first)
        return self

    def fit(self, X, y, sample_weight=None):
        """Build the network for ``X`` and ``y`` and train it for ``epochs`` epochs.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features) or (n_samples, channels, *spatial)
            2-D rows are reshaped to ``input_shape`` (default: a 1-channel 1-D signal).
        y : array_like, shape (n_samples,) (or (n_samples, n_outputs) for the regressor)
        sample_weight : array_like, shape (n_samples,), optional
            Non-negative weights: each mini-batch's loss is the weighted mean of its samples'
            (``history_`` then records the weighted loss, no accuracy).

        Returns
        -------
        self
        """
        return self._fit(X, y, self.epochs, first=True, sample_weight=sample_weight)

    def _predict_outputs(self, X, proba):
        check_is_fitted(self, "model_")
        threads = self._check_settings()
        X = self._check_X(X, reset=False)
        with _call_limits(threads, 0):
            return (_predict_proba if proba else _predict)(self.model_, X, batch_size=256)

    # -- pickling: the network's arrays travel, never a file path ---------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: Python's default is the live __dict__
        if "model_" in state:
            state["model_"] = _pack(state["model_"])
        return state

    def __setstate__(self, state):
        if "model_" in state:
            state["model_"] = _unpack(state["model_"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class ConvNetClassifier(ClassifierMixin, _ConvNetBase):
    """A convolutional network classifier, built from the lecture's architecture choices.

    The network is ``conv_layers`` blocks of convolution (``filters`` channels, ``kernel_size``,
    ``stride``, ``padding``), optional batch normalisation, ``activation`` and optional 2-wide
    ``pooling``; then ``dense_layers`` fully connected layers of ``units`` (with ``dropout``); then
    one output per class, trained with cross-entropy. Give ``module`` to train any other convcore
    network instead (the zoo's ``models.lenet5``, ``models.resnet18``, or your own), with
    ``module__name=value`` routed to it when it is a callable; ``num_classes`` and ``in_channels``
    are filled in from the data when the callable takes them and they are not given.

    Parameters
    ----------
    module : convcore.nn.Module or callable, optional
        The network (copied at every ``fit``) or a function building it; the architecture
        parameters below are then ignored.
    input_shape : tuple of int, optional
        One sample's shape ``(channels, *spatial)`` for 2-D ``X``, e.g. ``(1, 8, 8)`` for the
        digits. Default: each row is a 1-channel 1-D signal. 3-D to 5-D ``X`` goes in as it is.
    conv_layers : int, default=2
    filters : int or sequence of int, default=8
        Output channels of every convolution layer, or one per layer.
    kernel_size, stride : int, default=3, 1
    padding : {'same', 'valid'} or int, default='same'
        ``'same'`` with ``stride > 1`` pads half the kernel.
    pooling : {'max', 'avg', None}, default='max'
    dense_layers : int, default=1
    units : int or sequence of int, default=32
    activation : {'relu', 'leaky_relu', 'tanh', 'sigmoid', 'gelu'}, default='relu'
    dropout : float, default=0.0
        Drop probability after every hidden dense layer.
    batch_norm : bool, default=False
    optimizer : {'adam', 'adamw', 'sgd'}, default='adam'
    learning_rate : float, default=1e-3
    batch_size, epochs : int, default=32, 10
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and stop when its loss
        has not improved for ``patience`` epochs; the best epoch's weights are kept.
    validation_fraction : float, default=0.1
    patience : int, default=5
    dtype : {'float32', 'float64'}, default='float32'
    random_state : int, RandomState or None
        Seeds the initial weights, the shuffling, dropout and the validation split.
    verbose : {0, 1, 2}, default=0
        1: a progress bar per epoch, 2: a line per epoch.
    threads : int, optional
        Kernel and BLAS threads during ``fit``/``predict`` (restored afterwards). None keeps
        convcore's setting, which follows ``OMP_NUM_THREADS``: joblib's process pool sets it to
        cores // workers in each worker (1 for ``n_jobs=-1``) and dask's nanny to 1, so workers x
        threads never exceeds the cores. Set it only when fits do not run in parallel threads
        of one process: the setting is the process's while the call runs.
    **module_params
        ``module__<name>=value``: arguments of the ``module`` callable.

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
    sample_shape_ : tuple
        One sample's shape as the network sees it.
    model_ : convcore.nn.Module
        The trained network (``model_.save(path)`` writes it).
    history_ : dict of lists
        Per-epoch ``loss``, ``accuracy`` (and ``val_loss``, ``val_accuracy`` with early stopping).
    n_iter_ : int
        Epochs trained.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConvNetClassifier(input_shape=(1, 8, 8), epochs=3, learning_rate=0.01, random_state=0)
    >>> clf.fit(X[:1000] / 16, y[:1000]).score(X[1000:] / 16, y[1000:]) > 0.8
    True
    """

    _multi_output = False

    def _loss(self):
        return "cross_entropy"

    def _targets(self, y, first, classes):
        if first:
            check_classification_targets(y)
            self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"y has only one class ({self.classes_[0]!r}); a classifier needs "
                                 f"samples of at least 2 classes")
        encoded = np.searchsorted(self.classes_, y)
        encoded = np.minimum(encoded, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[encoded], y):
            raise ValueError(f"y holds labels that are not among classes_ {self.classes_.tolist()}")
        return encoded.astype(np.int64), len(self.classes_), encoded

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more epoch (the first call builds the network; ``classes`` lists every label
        when the first batch does not hold them all). The optimizer's state carries over."""
        first = not hasattr(self, "model_")
        return self._fit(X, y, 1, first=first, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        return self._predict_outputs(X, proba=True).astype(np.float64)

    def predict(self, X):
        """The most probable class of every sample."""
        proba = self._predict_outputs(X, proba=True)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class ConvNetRegressor(RegressorMixin, _ConvNetBase):
    """A convolutional network regressor: as :class:`ConvNetClassifier` (same parameters and
    attributes except ``classes_``), with one output per target column and mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 16))
    >>> y = X[:, :4].sum(axis=1)
    >>> reg = ConvNetRegressor(conv_layers=1, epochs=30, learning_rate=0.01, random_state=0)
    >>> reg.fit(X[:300], y[:300]).score(X[300:], y[300:]) > 0.8
    True
    """

    _multi_output = True

    def _loss(self):
        return "mse"

    def _targets(self, y, first, classes):
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._single_target = y.ndim == 1
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        return y.reshape(len(y), n_outputs), n_outputs, None

    def partial_fit(self, X, y, sample_weight=None):
        """Train one more epoch (the first call builds the network)."""
        return self._fit(X, y, 1, first=not hasattr(self, "model_"), sample_weight=sample_weight)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs) as ``y`` was."""
        out = self._predict_outputs(X, proba=False).astype(np.float64)
        return out.ravel() if self._single_target else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

"""The model API of every network: ``fit``, ``evaluate``, ``predict``, ``predict_proba``,
``summary`` and ``save`` as methods of :class:`convcore.nn.Module`.

The work is done by free functions that take the model (``convcore.training.fit(model, X, y)``,
``convcore.io.save(model, path)``), and both modules import ``nn``. So the base ``Module`` and the
layers import neither the training loop nor the file format; this module, above all three, adds
the methods to ``Module`` once, when convcore is imported (``convcore/__init__.py``), and every
network has them: containers, the zoo's models and a user's own subclasses.
"""
from . import io, training
from .nn._module import Module


def fit(self, X, y, epochs=1, batch_size=32, **kwargs):
    """Train the model; see :func:`convcore.training.fit`."""
    return training.fit(self, X, y, epochs=epochs, batch_size=batch_size, **kwargs)


def evaluate(self, X, y, **kwargs):
    """Loss (and accuracy for classifiers); see :func:`convcore.training.evaluate`."""
    return training.evaluate(self, X, y, **kwargs)


def predict(self, X, **kwargs):
    """Predicted labels (classifiers) or outputs; see :func:`convcore.training.predict`."""
    return training.predict(self, X, **kwargs)


def predict_proba(self, X, **kwargs):
    """Class probabilities; see :func:`convcore.training.predict_proba`."""
    return training.predict_proba(self, X, **kwargs)


def summary(self, input_shape=None):
    """Table of layers, output shapes and parameter counts; see :func:`convcore.training.summary`."""
    return training.summary(self, input_shape)


def save(self, path):
    """Write the model to one ``.npz`` file; see :func:`convcore.io.save`."""
    io.save(self, path)


for _method in (fit, evaluate, predict, predict_proba, summary, save):
    _method.__qualname__ = f"Module.{_method.__name__}"
    _method.__module__ = Module.__module__
    setattr(Module, _method.__name__, _method)

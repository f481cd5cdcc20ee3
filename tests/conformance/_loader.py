"""Import SciPy's installed test modules under a fresh name, with convcore's functions in SciPy's place.

The test module's references to ``scipy.ndimage`` / ``scipy.signal`` (the namespace and the
functions it imported by name) are pointed at wrappers: convcore's function where convcore provides
the name, SciPy's own otherwise. Each wrapper notes its calls in ``CALLED`` so that the conftest can
tell per function how its tests went. Functions captured at import time in ``parametrize`` lists are
swapped at collection (``swap``), so the tests compare like with like (``f in (ndimage.correlate,
...)`` inside a test sees the same wrapper as the parameter).
"""
import collections.abc
import functools
import importlib
import importlib.util
import inspect
import sys
import types

import pytest

#: SciPy namespace -> the convcore namespace that stands in for it
PEERS = {"scipy.ndimage": "convcore.ndimage", "scipy.signal": "convcore.signal"}
#: labels ("ndimage.correlate") of the public functions called by the running test
CALLED = set()
#: labels of the functions convcore provides
PROVIDED = set()

_wrappers = {}      # label -> wrapper
_originals = {}     # id(SciPy function) -> label (the function object is kept alive by SciPy)


def _label(peer, name):
    return f"{peer.rsplit('.', 1)[1]}.{name}"


def _wrap(peer, name):
    """The wrapper that stands for SciPy's ``peer.name`` in the tests (one object per name)."""
    label = _label(peer, name)
    if label not in _wrappers:
        ours = importlib.import_module(PEERS[peer])
        provided = name in getattr(ours, "__all__", ())
        impl = getattr(ours, name) if provided else getattr(importlib.import_module(peer), name)
        if provided:
            PROVIDED.add(label)

        @functools.wraps(impl)
        def call(*args, **kwargs):
            CALLED.add(label)
            return impl(*args, **kwargs)
        _wrappers[label] = call
    return _wrappers[label]


def _public_function(peer, name):
    obj = getattr(importlib.import_module(peer), name, None)
    return not name.startswith("_") and inspect.isroutine(obj)


class _Namespace(types.ModuleType):
    """Stands for a SciPy namespace: public functions through wrappers, anything else SciPy's."""

    def __init__(self, peer):
        super().__init__(peer)
        self._peer = peer

    def __getattr__(self, name):
        if _public_function(self._peer, name):
            return _wrap(self._peer, name)
        return getattr(importlib.import_module(self._peer), name)


def _index_originals():
    for peer in PEERS:
        ns = importlib.import_module(peer)
        for name in dir(ns):
            if _public_function(peer, name):
                _originals.setdefault(id(getattr(ns, name)), (peer, name))


def swap(value):
    """`value` with SciPy's public functions replaced by their wrappers (inside tuples, lists, dicts
    and ``functools.partial`` too)."""
    if callable(value) and id(value) in _originals:
        return _wrap(*_originals[id(value)])
    if isinstance(value, tuple):
        return type(value)(*map(swap, value)) if hasattr(value, "_fields") else \
            tuple(map(swap, value))
    if isinstance(value, list):
        return [swap(v) for v in value]
    if isinstance(value, dict):
        return {k: swap(v) for k, v in value.items()}
    if isinstance(value, functools.partial):
        return functools.partial(swap(value.func), *map(swap, value.args),
                                 **{k: swap(v) for k, v in value.keywords.items()})
    return value


def load(module, select=None):
    """The tests (and fixtures) of SciPy's installed test `module`, run with convcore's functions.

    `select`: names of the test classes/functions to keep (default: every one). When the module is
    not installed (SciPy built without its tests) or cannot be imported, one test that skips with
    the reason stands in for the suite.
    """
    try:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ImportError(f"{module} is not installed (SciPy was installed without its tests)")
        fresh = f"{module}__convcore"
        if fresh not in sys.modules:
            _index_originals()
            copy_spec = importlib.util.spec_from_file_location(fresh, spec.origin)
            mod = importlib.util.module_from_spec(copy_spec)
            sys.modules[fresh] = mod
            try:
                copy_spec.loader.exec_module(mod)
            except BaseException:
                del sys.modules[fresh]
                raise
            for key, value in list(vars(mod).items()):
                if isinstance(value, types.ModuleType) and value.__name__ in PEERS:
                    setattr(mod, key, _Namespace(value.__name__))
                else:
                    setattr(mod, key, swap(value))
        mod = sys.modules[fresh]
    except (ImportError, pytest.skip.Exception) as exc:
        reason = f"SciPy's {module} cannot be loaded here: {exc}"

        def test_scipy_suite_installed():
            pytest.skip(reason)
        return {"test_scipy_suite_installed": test_scipy_suite_installed}
    exported = {}
    for key, value in vars(mod).items():
        if key.startswith("__"):
            continue
        is_test = key.startswith(("test", "Test"))
        if is_test and select is not None and key not in select:
            continue
        if is_test or _is_fixture(value):
            exported[key] = value
            _listify_parametrize(value)
    return exported


def _listify_parametrize(obj):
    """Turn one-shot iterators given to ``parametrize`` into lists (pytest 9 deprecates them, and
    this suite turns warnings into errors)."""
    targets = [obj] + ([v for v in vars(obj).values() if callable(v)] if inspect.isclass(obj) else [])
    for target in targets:
        marks = getattr(target, "pytestmark", None)
        if not isinstance(marks, list):
            continue
        for i, mark in enumerate(marks):
            if (mark.name == "parametrize" and len(mark.args) > 1
                    and not isinstance(mark.args[1], collections.abc.Collection)):
                args = (mark.args[0], list(mark.args[1])) + tuple(mark.args[2:])
                marks[i] = pytest.mark.parametrize(*args, **mark.kwargs).mark


def _is_fixture(obj):
    return (hasattr(obj, "_fixture_function_marker")          # pytest >= 8.4
            or hasattr(obj, "_pytestfixturefunction"))        # older pytest

"""Which instruction set the kernels run: the best this CPU has, minus what the user disabled.

On x86-64 some compiled modules come in several builds: the line kernels (``lines``,
``separable2d``, ``uniform2d``, ``box8``, ``correlate2d``, ``recheck``) baseline and AVX2,
``im2col``, ``winograd``, ``shallow``, ``dense``, ``depthwise``, ``pooling``, ``activations``,
``channels`` and ``ordered`` baseline, AVX2 and AVX-512F (each a whole module compiled with ``-mavx2`` or
``-mavx512f``; no ifunc, so the choice can be steered); ``direct`` carries AVX2+FMA copies of its row kernels.
:func:`load` imports the widest build that the CPU supports and that
``CONVCORE_DISABLE_CPU_FEATURES`` (read once, when convcore is imported; names separated by commas
or spaces, e.g. ``AVX512F`` or ``AVX2``) does not disable, in the spirit of NumPy's
``NPY_DISABLE_CPU_FEATURES``. Disabling a feature also disables the wider ones built on it
(``AVX2`` disables ``AVX512F``), so tests and benchmarks can run every path on one machine.
Elsewhere (other CPUs, compilers, platforms) the baseline build is the only one.
"""
import importlib
import os
import re
import warnings

from ._kernels.cpu_id import cpu_features

#: The dispatched features from narrowest to widest; each needs the ones before it.
FEATURES = ("AVX2", "AVX512F")
_SUFFIX = {"AVX2": "_avx2", "AVX512F": "_avx512f"}
ENV = "CONVCORE_DISABLE_CPU_FEATURES"


def _disabled(value):
    names = {n.upper() for n in re.split(r"[,\s]+", value) if n}
    unknown = sorted(names - set(FEATURES))
    if unknown:
        warnings.warn(f"{ENV}: unknown feature(s) {', '.join(unknown)} ignored; known: "
                      f"{', '.join(FEATURES)}", RuntimeWarning, stacklevel=3)
    return tuple(f for f in FEATURES if f in names)


#: What the environment disabled, read once at import.
DISABLED = _disabled(os.environ.get(ENV, ""))
#: What this CPU has (of FEATURES).
DETECTED = cpu_features()


def _enabled():
    enabled = []
    for feature in FEATURES:
        if feature not in DETECTED or feature in DISABLED:
            break
        enabled.append(feature)
    return tuple(enabled)


#: The features the kernels may use: a prefix of FEATURES.
ENABLED = _enabled()
_loaded = {}


def load(name):
    """The compiled module ``convcore._kernels.<name>`` in the widest build allowed here.

    Examples
    --------
    >>> from convcore import _cpu
    >>> _cpu.load("lines").__name__.startswith("convcore._kernels.lines")
    True
    """
    if name not in _loaded:
        for feature in reversed(ENABLED):
            try:
                module = importlib.import_module(f"convcore._kernels.{name}{_SUFFIX[feature]}")
                break
            except ModuleNotFoundError:  # this build has no such variant (another CPU, compiler)
                continue
        else:
            module = importlib.import_module(f"convcore._kernels.{name}")
        if hasattr(module, "set_cpu_features"):  # a module that dispatches inside itself
            module.set_cpu_features("AVX2" in ENABLED)
        _loaded[name] = module
    return _loaded[name]


def active():
    """{module: build} for the dispatching modules loaded so far, e.g. {"lines": "AVX2"}."""
    out = {}
    for name, module in _loaded.items():
        if hasattr(module, "cpu_features"):
            out[name] = "+".join(module.cpu_features()) or "baseline"
        else:
            suffix = module.__name__.rpartition(name)[2]
            out[name] = next((f for f, s in _SUFFIX.items() if s == suffix), "baseline")
    return out


def builds(name):
    """Every build of ``convcore._kernels.<name>`` this CPU can run, the baseline first.

    For tests that check the builds give the same results; ``CONVCORE_DISABLE_CPU_FEATURES``
    does not apply (it steers :func:`load`).

    Examples
    --------
    >>> from convcore import _cpu
    >>> _cpu.builds("lines")[0].__name__
    'convcore._kernels.lines'
    """
    found = [importlib.import_module(f"convcore._kernels.{name}")]
    for feature in FEATURES:
        if feature not in DETECTED:
            break
        try:
            found.append(importlib.import_module(f"convcore._kernels.{name}{_SUFFIX[feature]}"))
        except ModuleNotFoundError:  # this build has no such variant (another CPU, compiler)
            continue
    return found

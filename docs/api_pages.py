"""Write the API reference pages: for each public module, an autosummary of every name in its
``__all__``; an object re-exported by several modules is documented once, under the first. The
modules below come first, in this order; any other public module (``convcore.x.y`` with no
underscore part) whose ``__all__`` has names not yet listed gets a page of its own after them."""
import importlib
import os
import pkgutil
import types

import convcore

#: (module, title) in the order of the reference; each page lists the names not listed before.
MODULES = [
    ("convcore", "convcore: convolution, pooling, attention, their gradients, threads, model files"),
    ("convcore.signal", "convcore.signal: scipy.signal drop-ins"),
    ("convcore.ndimage", "convcore.ndimage: scipy.ndimage drop-ins"),
    ("convcore.filters", "convcore.filters: the lecture's filters and photographs"),
    ("convcore.losses", "convcore.losses: losses (also in convcore.nn, as in PyTorch)"),
    ("convcore.nn", "convcore.nn: layers and containers"),
    ("convcore.nn.init", "convcore.nn.init: weight initialisation"),
    ("convcore.optim", "convcore.optim: optimizers and schedules"),
    ("convcore.training", "convcore.training: fit, evaluate, predict"),
    ("convcore.metrics", "convcore.metrics: classification metrics"),
    ("convcore.models", "convcore.models: the zoo and pretrained weights"),
    ("convcore.models.pretrained", "convcore.models.pretrained: published weights"),
    ("convcore.datasets", "convcore.datasets: built-in data"),
    ("convcore.io", "convcore.io: model files"),
    ("convcore.plots", "convcore.plots: figures"),
    ("convcore.demo", "convcore.demo: the demo"),
]


def _all_modules():
    listed = [name for name, _ in MODULES]
    found = sorted(m.name for m in pkgutil.walk_packages(convcore.__path__, "convcore.")
                   if "._" not in m.name and m.name not in ("convcore.cli", "convcore.__main__"))
    return listed + [name for name in found if name not in listed]


def public_names(seen=None):
    """``{module: [names]}`` of what each page documents (modules excluded, no repeats; modules
    with nothing new are left out)."""
    seen = set() if seen is None else seen
    pages = {}
    for name in _all_modules():
        module = importlib.import_module(name)
        names = []
        for attr in module.__all__:
            obj = getattr(module, attr)
            if isinstance(obj, types.ModuleType) or attr.startswith("__"):
                continue
            key = id(obj) if callable(obj) or isinstance(obj, type) else (name, attr)
            if key in seen:
                continue
            seen.add(key)
            names.append(attr)
        if names:
            pages[name] = names
    return pages


def write_api_pages(folder):
    os.makedirs(folder, exist_ok=True)
    pages = public_names()
    titles = dict(MODULES)
    for name, names in pages.items():
        title = titles.get(name, name)
        # a listed module gets its docstring; one found by itself only its names (its own name may
        # be a function's too, e.g. convcore.models.xception, and one object has one description)
        head = [f".. automodule:: {name}", "   :no-members:", ""] if name in titles else []
        lines = [title, "=" * len(title), "", *head, f".. currentmodule:: {name}", "",
                 ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {n}" for n in names]
        _write(os.path.join(folder, f"{name}.rst"), "\n".join(lines) + "\n")
    index = ["API reference", "=============", "",
             "Every public name, generated from the docstrings (numpydoc format).", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {name}" for name in pages]
    _write(os.path.join(folder, "index.rst"), "\n".join(index) + "\n")


def _write(path, text):
    """Rewrite only on change, so Sphinx does not rebuild every page each time."""
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, "w") as f:
        f.write(text)

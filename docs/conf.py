"""Sphinx configuration: numpydoc docstrings, an API reference generated for every public name,
and a sphinx-gallery built from ``examples/gallery`` (each script runs at build time).

Build from the installed package (``pip install ".[docs]"``), warnings as errors::

    sphinx-build -W -b html docs docs/_build/html
"""
import os
import sys

import convcore

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                       # api_pages.py beside this file
from api_pages import write_api_pages  # noqa: E402

project = "convcore"
author = "the convcore developers"
copyright = "the convcore developers"
release = version = convcore.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "**.ipynb", "**.md5", "**.zip", "**.py", "**.json"]
templates_path = []
html_theme = "pydata_sphinx_theme"
html_title = f"convcore {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []
html_show_sourcelink = False

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()
intersphinx_mapping = {}

# The API reference: one page per public module, one entry per name in its __all__.
write_api_pages(os.path.join(HERE, "api"))

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(HERE, "..", "examples", "gallery"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 10**6,
    "image_scrapers": ("figure_scraper",),
}


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the members scikit-learn defines (its metadata-routing ``set_*_request`` methods,
    which it adds to every estimator class, and the search methods the searches inherit): their
    docstrings cite scikit-learn's own glossary, and scikit-learn documents them."""
    defined = getattr(obj, "fget", obj)  # a property: where its getter is defined
    if (getattr(defined, "__module__", None) or "").startswith("sklearn."):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)

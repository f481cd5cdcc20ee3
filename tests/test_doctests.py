"""Every Examples section in the installed package runs as a doctest."""
import doctest
import importlib
import pkgutil

import pytest

import convcore
from convcore import _cpu

# The instruction-set builds of a kernel module (``im2col_avx512f``...) are left out: they are
# the baseline module's source compiled for a wider CPU, whose docstrings run with the baseline,
# and importing one on a CPU without that instruction set stops the interpreter (SIGILL).
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(convcore.__path__, "convcore.")
    if not m.name.endswith(("__main__", *_cpu._SUFFIX.values()))
)
# Modules whose examples need an optional extra: skipped cleanly when it is missing.
NEEDS = {"convcore.plots": "matplotlib"}
NEEDS.update({f"convcore._dask.{m}": "dask.array"
              for m in ("_blocks", "_filters", "_ndimage", "_networks", "_signal")})
NEEDS.update({m: "sklearn" for m in MODULES if m.startswith("convcore.sklearn")})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if NEEDS.get(name):
        pytest.importorskip(NEEDS[name])
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"

"""SciPy's installed ``scipy.ndimage.tests.test_filters``, run with convcore.ndimage in its place."""
from ._loader import load

globals().update(load("scipy.ndimage.tests.test_filters"))

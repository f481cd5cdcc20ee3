"""The conformance harness itself: what stands in SciPy's place, and a missing suite skips."""
import functools

import pytest
import scipy.ndimage
import scipy.signal

import convcore.ndimage
from . import _loader


def test_namespace_gives_convcore_where_it_provides_the_name():
    ns = _loader._Namespace("scipy.ndimage")
    assert ns.correlate.__wrapped__ is convcore.ndimage.correlate
    assert ns.median_filter.__wrapped__ is scipy.ndimage.median_filter    # not provided
    assert ns.correlate is ns.correlate                                   # one object per name
    assert "ndimage.correlate" in _loader.PROVIDED
    assert "ndimage.median_filter" not in _loader.PROVIDED


def test_swap_reaches_into_parameters():
    _loader._index_originals()
    swapped = _loader.swap([(scipy.signal.convolve, {"f": scipy.ndimage.sobel}),
                            functools.partial(scipy.ndimage.correlate1d, axis=0), 3])
    (conv, kwargs), partial, three = swapped
    assert conv.__wrapped__ is convcore.signal.convolve
    assert kwargs["f"].__wrapped__ is convcore.ndimage.sobel
    assert partial.func.__wrapped__ is convcore.ndimage.correlate1d and partial.keywords == {
        "axis": 0}
    assert three == 3


def test_calls_are_recorded():
    _loader.CALLED.clear()
    _loader._Namespace("scipy.ndimage").uniform_filter1d([1.0, 2.0, 3.0], 3)
    assert _loader.CALLED == {"ndimage.uniform_filter1d"}


def test_missing_suite_skips_with_its_reason():
    tests = _loader.load("scipy.ndimage.tests.test_not_there")
    assert list(tests) == ["test_scipy_suite_installed"]
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        tests["test_scipy_suite_installed"]()

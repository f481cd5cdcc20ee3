"""The convolution and correlation tests of SciPy's installed ``scipy.signal.tests.test_signaltools``,
run with convcore.signal in its place."""
from ._loader import load

globals().update(load("scipy.signal.tests.test_signaltools", select={
    "TestConvolve", "TestConvolve2d", "TestFFTConvolve", "TestOAConvolve", "TestAllFreqConvolves",
    "test_convolve_longdtype_input", "TestCorrelateReal", "TestCorrelate", "TestCorrelateComplex",
    "TestCorrelate2d", "test_choose_conv_method", "test_choose_conv_method_2"}))

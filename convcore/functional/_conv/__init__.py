"""The convolutions of :mod:`convcore.functional.conv`, laid out as :mod:`convcore.signal` is:

- ``plan``: the checked arguments of one call (arrays in their working dtype, the geometry);
- ``choice``: one table of measured thresholds and the rules that pick an engine and its steps;
- ``dispatch``: which engine runs the forward pass and each gradient;
- the engines ``by_smallmaps`` (one dense matrix), ``by_depthwise`` (direct planes),
  ``by_shallow`` (direct, for few input channels), ``by_winograd`` (F(2x2, 3x3)) and ``by_im2col``
  (im2col + GEMM, col2im), named apart from the compiled modules;
- ``kernels``: the compiled modules, each loaded in this one place.
"""

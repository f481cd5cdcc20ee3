"""im2col's table path (output rows of at most 4 positions: patches copied through a table of
input offsets) against the NumPy loop of test_conv, on both sides of the width it applies to, in
tiles that start mid-image, and with more taps x positions than the table holds; col2im as its
adjoint, and the convolution's gradients by linearity on 1 and 2 threads."""
import numpy as np
import pytest
from test_conv import check_im2col_and_col2im, reference_im2col

import convcore
import convcore.functional as F
from convcore._cpu import load

_im2col = load("im2col")
rng = np.random.default_rng(11)

CASES = [  # nd, C_in, spatial, kernel, stride, padding (low, high) per axis, dilation
    (2, 3, (8, 8), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # 4 wide: the table
    (2, 3, (10, 10), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # 5 wide: runs
    (2, 2, (5, 4), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (2, 2, (7, 9), (2, 3), (3, 2), ((0, 2), (1, 0)), (2, 2)),  # stride > kernel, dilation
    (2, 1, (600, 4), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # tiles start mid-image
    (1, 4, (7,), (3,), (2,), ((1, 1),), (1,)),
    (3, 2, (4, 5, 6), (2, 3, 3), (1, 2, 2), ((1, 0), (1, 1), (0, 1)), (1, 1, 2)),
    (3, 1, (20, 20, 4), (11, 11, 3), (1, 1, 1), ((0, 0), (0, 0), (1, 1)), (1, 1, 1)),  # > table
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im(case, dtype):
    nd, c_in, spatial, kernel, stride, pads, dilation = case
    x = rng.standard_normal((c_in,) + spatial).astype(dtype)
    check_im2col_and_col2im(x, kernel, stride, pads, dilation)


@pytest.mark.parametrize("case", CASES[:5])
def test_convolution_and_gradients(case):
    nd, c_in, spatial, kernel, stride, pads, dilation = case
    x = rng.standard_normal((6, c_in) + spatial)
    w = rng.standard_normal((5, c_in) + kernel)
    kw = dict(stride=stride, padding=pads, dilation=dilation)
    y = F.conv2d(x, w, **kw)
    cols = [reference_im2col(xi, kernel, stride, pads, dilation) for xi in x]
    ref = np.stack([w.reshape(5, -1) @ ci for ci in cols]).reshape(y.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    outs = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            outs.append(F.conv2d_backward(gy, x, w, **kw))
    finally:
        convcore.set_num_threads(None)
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)
    gx, gw, _ = outs[0]
    total = np.sum(gy * y)
    assert np.sum(gx * x) == pytest.approx(total, rel=1e-9)
    assert np.sum(gw * w) == pytest.approx(total, rel=1e-9)

"""filters.apply as a student of the lecture types it: the slides' edge rules (none, zero,
mirror, wrap) in filters.apply and `convcore filter`, and integer grids typed by hand keeping their
values, on the slides' own grids, against a NumPy loop of the slide's formula, scipy.signal and
scipy.ndimage."""
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage as sp_ndimage
from scipy import signal as sp_signal

import convcore
from convcore import cli, filters

# the slides' grids: 8x8, 8x9 and 10x10 binary images of lines
SLIDE_8x8 = np.array([
    [1, 0, 1, 0, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1],
    [0, 0, 1, 0, 0, 0, 1, 0],
    [0, 0, 1, 0, 0, 0, 0, 1]])
SLIDE_8x9 = np.hstack([SLIDE_8x8, np.zeros((8, 1), int)])
SLIDE_10x10 = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    [0, 1, 0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 1, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 1, 0]])
GRIDS = [SLIDE_8x8, SLIDE_8x9, SLIDE_10x10]
LINES = [filters.line_horizontal, filters.line_vertical, filters.line_diagonal_45,
         filters.line_diagonal_135, lambda: filters.box(3)]

RULES = ["none", "zero", "mirror", "wrap"]
#: each slide rule as scipy.signal's correlate2d and scipy.ndimage's correlate call it
SIGNAL = {"none": dict(mode="valid"), "zero": dict(mode="same", boundary="fill"),
          "mirror": dict(mode="same", boundary="symm"), "wrap": dict(mode="same", boundary="wrap")}
NDIMAGE = {"zero": "constant", "mirror": "reflect", "wrap": "wrap"}


def slide_formula(A, h):
    """C[m, n] = sum_j sum_i h[i + w, j + w] A[m + i, n + j] where the whole filter fits."""
    A, h = np.asarray(A, float), np.asarray(h, float)
    k0, k1 = h.shape
    C = np.zeros((A.shape[0] - k0 + 1, A.shape[1] - k1 + 1))
    for m in range(C.shape[0]):
        for n in range(C.shape[1]):
            for i in range(k0):
                for j in range(k1):
                    C[m, n] += h[i, j] * A[m + i, n + j]
    return C


@pytest.mark.parametrize("grid", GRIDS, ids=["8x8", "8x9", "10x10"])
@pytest.mark.parametrize("make", LINES, ids=["horizontal", "vertical", "45", "135", "blur"])
def test_none_is_the_slide_formula(grid, make):
    kernel = make()
    out = filters.apply(grid, kernel, boundary="none", preserve_range=True)
    assert out.shape == (grid.shape[0] - 2, grid.shape[1] - 2)
    np.testing.assert_allclose(out, slide_formula(grid, kernel), atol=1e-12)
    np.testing.assert_allclose(out, sp_signal.correlate2d(grid, kernel, mode="valid"), atol=1e-12)
    # convolution flips the filter: the same numbers from convolve2d with the flipped kernel
    np.testing.assert_allclose(out, sp_signal.convolve2d(grid, kernel[::-1, ::-1], mode="valid"),
                               atol=1e-12)


def test_the_slides_numbers():
    # the row of ones in the 8x8 grid: the horizontal detector gives 2*3 - (above + below)
    out = filters.apply(SLIDE_8x8.astype(float), filters.line_horizontal(), boundary="none")
    # output row 4 is centred on grid row 5; 6 minus the ones above (row 4) and below (row 6):
    # columns 0-2: 6 - 1 - 1, 1-3: 6 - 1 - 1, 2-4: 6 - 2 - 1, 3-5: 6 - 1, 4-6: 6 - 1 - 1, 5-7: 6 - 1
    assert out[4].tolist() == [4.0, 4.0, 3.0, 5.0, 4.0, 5.0]
    # the 1x5 moving average of the N-D slide (weights 0.5), edges none: 5 samples -> 1 output
    row = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    out = filters.apply(row, filters.moving_average(5, weight=0.5), boundary="none")
    np.testing.assert_array_equal(out, [[7.5, 10.0]])


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("shape", [(3, 3), (3, 5), (4, 2), (1, 5), (7, 1)])
@pytest.mark.parametrize("stride", [1, 2, (3, 1)])
def test_each_rule_against_scipy(rule, shape, stride):
    rng = np.random.default_rng(sum(shape))
    image, kernel = rng.random((13, 17)), rng.standard_normal(shape)
    out = filters.apply(image, kernel, boundary=rule, stride=stride)
    s0, s1 = (stride, stride) if isinstance(stride, int) else stride
    ref = sp_signal.correlate2d(image, kernel, **SIGNAL[rule])
    np.testing.assert_allclose(out, ref[::s0, ::s1], rtol=1e-12, atol=1e-12)
    # convolve2d with the flipped kernel is the same correlation
    flipped = sp_signal.convolve2d(image, kernel[::-1, ::-1], **SIGNAL[rule])
    if rule == "none" or all(k % 2 for k in shape):   # 'same' centres even widths differently
        np.testing.assert_allclose(out, flipped[::s0, ::s1], rtol=1e-12, atol=1e-12)
    if rule != "none" and all(k % 2 for k in shape):
        nd = sp_ndimage.correlate(image, kernel, mode=NDIMAGE[rule])
        np.testing.assert_allclose(out, nd[::s0, ::s1], rtol=1e-12, atol=1e-12)


def test_none_in_the_scipy_ndimage_frame():
    # the valid part of ndimage's result (any mode) is the 'none' result
    rng = np.random.default_rng(3)
    image, kernel = rng.random((20, 30)), rng.random((5, 7))
    nd = sp_ndimage.correlate(image, kernel, mode="nearest")
    np.testing.assert_allclose(filters.apply(image, kernel, boundary="none"), nd[2:-2, 3:-3],
                               rtol=1e-12)


def test_mirror_repeats_the_edge_pixel():
    # 'mirror' is scipy.ndimage's 'reflect' (d c b a | a b c d), not its 'mirror' (d c b | a b c d)
    row = np.array([[1.0, 2.0, 4.0, 8.0]])
    left = np.array([[1.0, 0.0, 0.0]])      # reads the pixel to the left
    assert filters.apply(row, left, boundary="mirror")[0, 0] == 1.0
    assert sp_ndimage.correlate(row, left, mode="mirror")[0, 0] == 2.0


@pytest.mark.parametrize("old,new", [("symm", "mirror"), ("symmetric", "mirror"),
                                     ("fill", "zero"), ("pad", "zero"), ("circular", "wrap"),
                                     ("valid", "none")])
def test_scipy_names_still_work(old, new):
    rng = np.random.default_rng(5)
    image = rng.random((9, 11, 3))
    kernel = filters.sobel_x()
    np.testing.assert_array_equal(filters.apply(image, kernel, boundary=old),
                                  filters.apply(image, kernel, boundary=new))


def test_colour_and_edges_under_none():
    rng = np.random.default_rng(6)
    image = rng.random((12, 10, 3))
    out = filters.apply(image, filters.gaussian(5), boundary="none")
    assert out.shape == (8, 6, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], slide_formula(image[..., c], filters.gaussian(5)),
                                   atol=1e-12)
    np.testing.assert_allclose(filters.edges(image, boundary="none"),
                               filters.edges(image)[1:-1, 1:-1], atol=1e-12)


def test_wide_separable_kernel_under_none():
    # the 101x101 Gaussian runs as two 1-D passes; 'none' cuts the same numbers as the formula
    rng = np.random.default_rng(7)
    image, kernel = rng.random((110, 104)), filters.gaussian(101)
    ref = sp_signal.correlate2d(image, kernel, mode="valid")
    np.testing.assert_allclose(filters.apply(image, kernel, boundary="none"), ref, rtol=1e-10)


def test_rule_errors():
    with pytest.raises(ValueError, match="boundary must be one of none, valid, zero, mirror"):
        filters.apply(np.ones((5, 5)), filters.box(3), boundary="reflect")
    with pytest.raises(ValueError, match=r"kernel of shape \(7, 3\) is larger than the image "
                                         r"\(5, 9\): with boundary='none'"):
        filters.apply(np.ones((5, 9)), np.ones((7, 3)), boundary="none")
    with pytest.raises(ValueError, match="boundary='zero' reads 0 outside the image, so cval"):
        filters.apply(np.ones((5, 5)), filters.box(3), boundary="zero", cval=0.5)
    # a kernel as large as the image gives one pixel
    assert filters.apply(np.ones((5, 9)), np.ones((5, 9)), boundary="none").shape == (1, 1)


def test_dask_none_matches_memory():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(8)
    image = rng.random((30, 25, 3))
    d = da.from_array(image, chunks=(7, 6, 3))
    for stride in (1, 2):
        for kernel in (filters.box(3), filters.gaussian(9, 2.0), np.ones((4, 2))):
            np.testing.assert_allclose(
                filters.apply(d, kernel, boundary="none", stride=stride).compute(),
                filters.apply(image, kernel, boundary="none", stride=stride), rtol=1e-12)
    with pytest.raises(ValueError, match="larger than the image"):
        filters.apply(d, np.ones((31, 3)), boundary="none")


# integer grids typed by hand keep their values; only uint8/uint16 photographs are rescaled

HAND_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, bool]
DETECTORS = {"horizontal": filters.line_horizontal, "vertical": filters.line_vertical,
             "45": filters.line_diagonal_45, "135": filters.line_diagonal_135}


def one_pixel_line(direction, n=7):
    grid = np.zeros((n, n), dtype=np.int64)
    c = n // 2
    if direction == "horizontal":
        grid[c] = 1
    elif direction == "vertical":
        grid[:, c] = 1
    elif direction == "135":                 # upper left to lower right
        grid[np.arange(n), np.arange(n)] = 1
    else:                                    # "45": lower left to upper right
        grid[np.arange(n), np.arange(n)[::-1]] = 1
    return grid


@pytest.mark.parametrize("direction", list(DETECTORS))
@pytest.mark.parametrize("dtype", HAND_DTYPES, ids=lambda d: np.dtype(d).name)
def test_line_detectors_on_hand_typed_grids(direction, dtype):
    grid = one_pixel_line(direction).astype(dtype)
    for name, make in DETECTORS.items():
        kernel = make()
        out = filters.apply(grid, kernel, boundary="none")
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, slide_formula(grid.astype(np.int64), kernel))
        # the detector of the line's own direction gives 3 x 2 = 6 on the line; the others
        # meet it with -1, 2, -1 across their middle: 0
        centre = out[out.shape[0] // 2, out.shape[1] // 2]
        assert centre == (6.0 if name == direction else 0.0)


@pytest.mark.parametrize("dtype", HAND_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("rule", RULES)
def test_integer_values_are_kept_under_every_rule(dtype, rule):
    rng = np.random.default_rng(9)
    top = 2 if dtype is bool else min(int(np.iinfo(dtype).max), 1000)
    low = 0 if dtype is bool or np.dtype(dtype).kind == "u" else -top
    grid = rng.integers(low, top, (9, 11)).astype(dtype)
    kernel = filters.sobel_x()
    ref = sp_signal.correlate2d(grid.astype(np.float64), kernel, **SIGNAL[rule])
    np.testing.assert_array_equal(filters.apply(grid, kernel, boundary=rule), ref)


def test_int64_slide_grid_and_large_values():
    out = filters.apply(SLIDE_8x8, filters.line_horizontal(), boundary="none")   # int64
    assert out[4].tolist() == [4.0, 4.0, 3.0, 5.0, 4.0, 5.0]
    big = np.full((3, 3), 2**40, dtype=np.int64)
    assert filters.apply(big, filters.identity())[1, 1] == 2.0**40
    huge = np.full((3, 3), np.iinfo(np.uint64).max, dtype=np.uint64)
    assert filters.apply(huge, filters.identity())[1, 1] == float(np.iinfo(np.uint64).max)


@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 65535)])
def test_photograph_dtypes_are_rescaled(dtype, top):
    rng = np.random.default_rng(10)
    photo = rng.integers(0, top + 1, (12, 10, 3)).astype(dtype)
    kernel = filters.gaussian(5)
    out = filters.apply(photo, kernel)
    for c in range(3):
        ref = sp_signal.correlate2d(photo[..., c] / top, kernel, mode="same", boundary="symm")
        np.testing.assert_allclose(out[..., c], ref, rtol=1e-12, atol=1e-15)
    kept = filters.apply(photo, kernel, preserve_range=True)
    np.testing.assert_allclose(kept, out * top, rtol=1e-12)
    # the same grid typed as int64 is not a photograph: its values are kept
    np.testing.assert_allclose(filters.apply(photo.astype(np.int64), kernel), kept, rtol=1e-12)
    assert filters.as_float_image(np.array([[0, top]], dtype)).tolist() == [[0.0, 1.0]]


def test_dask_keeps_integer_values():
    da = pytest.importorskip("dask.array")
    grid = one_pixel_line("vertical", 12).astype(np.int32)
    d = da.from_array(grid, chunks=5)
    for rule in RULES:
        np.testing.assert_array_equal(
            filters.apply(d, filters.line_vertical(), boundary=rule).compute(),
            filters.apply(grid, filters.line_vertical(), boundary=rule))
    assert filters.apply(d, filters.line_vertical(), boundary="none").compute()[5, 5] == 6.0


# the command line: the rule is a --boundary choice


@pytest.fixture
def grey_png(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    grey = (np.arange(20 * 30) * 7 % 251).astype(np.uint8).reshape(20, 30)
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    return path, grey, Image


@pytest.mark.parametrize("rule", RULES)
def test_cli_rules(grey_png, tmp_path, rule):
    src, grey, Image = grey_png
    dst = tmp_path / f"{rule}.png"
    assert cli.main(["filter", str(src), str(dst), "--kernel", "box", "--size", "5",
                     "--boundary", rule]) == 0
    got = np.asarray(Image.open(dst))
    ref = sp_signal.correlate2d(grey / 255.0, np.full((5, 5), 1 / 25), **SIGNAL[rule])
    assert got.shape == ((16, 26) if rule == "none" else (20, 30))
    np.testing.assert_array_equal(got, np.rint(np.clip(ref, 0, 1) * 255))


def test_cli_entry_runs_none_and_lists_the_rules(grey_png, tmp_path):
    src, _, Image = grey_png
    dst = tmp_path / "valid.png"
    # run where the imported convcore lives: the source tree in place, site-packages installed
    home = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))
    run = [sys.executable, "-m", "convcore", "filter"]
    proc = subprocess.run(run + [str(src), str(dst), "--kernel", "line_horizontal",
                                 "--boundary", "none"], capture_output=True, text=True, cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert np.asarray(Image.open(dst)).shape == (18, 28)
    proc = subprocess.run(run + ["--help"], capture_output=True, text=True, cwd=home)
    assert proc.returncode == 0 and "{none,zero,mirror,wrap}" in proc.stdout
    proc = subprocess.run(run + [str(src), str(dst), "--boundary", "edge"], capture_output=True,
                          text=True, cwd=home)
    assert proc.returncode == 2 and "invalid choice: 'edge'" in proc.stderr

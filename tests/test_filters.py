"""convcore.filters: the ready kernels (against their formulas, scipy.ndimage and scipy.signal),
apply/edges on grey and colour images, the line detectors' orientation."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss

from convcore import filters
from convcore import signal as cs

FIXED = ["sharpen", "laplacian", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y", "scharr_x",
         "scharr_y", "line_horizontal", "line_vertical", "line_45", "line_135", "emboss"]
LINES = {"line_horizontal": "h", "line_vertical": "v", "line_45": "d45", "line_135": "d135"}


def _line_image(kind, n=15):
    """A one-pixel bright line of the given orientation through the centre of an n x n image."""
    img = np.zeros((n, n))
    r = np.arange(n)
    if kind == "h":
        img[n // 2, :] = 1.0
    elif kind == "v":
        img[:, n // 2] = 1.0
    elif kind == "d45":          # rising: lower left to upper right
        img[n - 1 - r, r] = 1.0
    else:                        # falling: upper left to lower right
        img[r, r] = 1.0
    return img


def _correlate_loop(image, kernel, boundary):
    """Reference: 'same' correlation written out as sums over the kernel (np.pad for the edges)."""
    k0, k1 = kernel.shape
    mode = {"symm": "symmetric", "wrap": "wrap", "fill": "constant"}[boundary]
    padded = np.pad(image, ((k0 // 2, k0 - 1 - k0 // 2), (k1 // 2, k1 - 1 - k1 // 2)), mode=mode)
    out = np.zeros(image.shape)
    for i in range(k0):
        for j in range(k1):
            out += kernel[i, j] * padded[i:i + image.shape[0], j:j + image.shape[1]]
    return out


class TestKernels:
    def test_gradients_equal_scipy_ndimage_derivatives(self):
        x = np.random.default_rng(0).random((12, 13))
        pairs = [(filters.sobel_x(), ndi.sobel(x, axis=1)),
                 (filters.sobel_y(), ndi.sobel(x, axis=0)),
                 (filters.prewitt_x(), ndi.prewitt(x, axis=1)),
                 (filters.prewitt_y(), ndi.prewitt(x, axis=0)),
                 (filters.laplacian(), ndi.laplace(x))]
        for kernel, ref in pairs:
            np.testing.assert_allclose(ndi.correlate(x, kernel), ref, atol=1e-12)

    def test_scharr_and_emboss_from_formula(self):
        np.testing.assert_array_equal(filters.scharr_x(), np.outer([3, 10, 3], [-1, 0, 1]))
        np.testing.assert_array_equal(filters.scharr_y(), filters.scharr_x().T)
        np.testing.assert_array_equal(filters.emboss(), [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        assert filters.sharpen().sum() == 1 and filters.emboss().sum() == 1

    def test_gaussian_matches_formula(self):
        k = filters.gaussian(7, sigma=1.5)
        r = np.arange(7) - 3
        ref = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
        np.testing.assert_allclose(k, ref / ref.sum(), rtol=1e-13)
        assert filters.gaussian(101).shape == (101, 101)
        np.testing.assert_allclose(filters.gaussian(101)[50, 50:52] / filters.gaussian(101)[50, 50],
                                   [1, np.exp(-0.5 / (50 / 3) ** 2)])
        assert filters.gaussian(5, 1.0, ndim=3).shape == (5, 5, 5)

    def test_nd_kernels(self):
        assert filters.box(3, ndim=1).shape == (3,)
        np.testing.assert_allclose(filters.box(2, ndim=3).sum(), 1.0)
        lap3 = filters.laplacian(3)
        assert lap3[1, 1, 1] == -6 and lap3.sum() == 0 and np.count_nonzero(lap3) == 7
        assert filters.identity(5, ndim=3)[2, 2, 2] == 1 and filters.identity(5, 3).sum() == 1
        np.testing.assert_array_equal(filters.moving_average(5, weight=0.5), [[0.5] * 5])

    def test_moving_average_equals_signal_convolve(self):
        x = np.arange(10.0)
        ma = filters.moving_average(5).ravel()
        np.testing.assert_allclose(cs.convolve(x, ma, "valid"), ss.convolve(x, ma, "valid"))
        np.testing.assert_allclose(cs.convolve(x, ma, "valid"), np.arange(2.0, 8.0))

    @pytest.mark.parametrize("name", sorted(filters.KERNELS))
    def test_registry(self, name):
        k = filters.get_kernel(name)
        assert k.ndim == 2 and np.all(np.isfinite(k))

    def test_errors(self):
        with pytest.raises(ValueError, match="size must be odd, got 4"):
            filters.gaussian(4)
        with pytest.raises(ValueError, match="sigma must be positive, got -1.0"):
            filters.gaussian(5, -1)
        with pytest.raises(TypeError, match="size must be an integer, got 2.5"):
            filters.box(2.5)
        with pytest.raises(ValueError, match="ndim must be positive, got 0"):
            filters.laplacian(0)
        with pytest.raises(ValueError, match="kernel must be one of .*; got 'blur'"):
            filters.get_kernel("blur")
        with pytest.raises(ValueError, match="sobel_x kernel is 3x3: size must be 3"):
            filters.get_kernel("sobel_x", size=5)
        with pytest.raises(ValueError, match="sigma applies to the gaussian kernel only"):
            filters.get_kernel("box", sigma=2.0)
        with pytest.raises(ValueError, match="weight must be finite"):
            filters.moving_average(5, weight=np.inf)


class TestLineDetectors:
    @pytest.mark.parametrize("name", sorted(LINES))
    def test_respond_to_their_own_orientation_only(self, name):
        responses = {}
        for kind in LINES.values():
            out = filters.apply(_line_image(kind), filters.get_kernel(name))
            responses[kind] = out[4:11, 4:11].max()        # away from the image edges
        own = LINES[name]
        assert responses[own] == pytest.approx(6.0)
        for kind, value in responses.items():
            if kind != own:
                assert value <= 2.0 + 1e-12, (kind, value)

    def test_flat_image_gives_zero(self):
        for name in LINES:
            out = filters.apply(np.full((6, 6), 0.7), filters.get_kernel(name))
            np.testing.assert_allclose(out, 0.0, atol=1e-14)


class TestApply:
    @pytest.mark.parametrize("boundary", ["symm", "fill", "wrap"])
    @pytest.mark.parametrize("name", ["box", "gaussian", "sobel_x", "emboss", "line_45",
                                      "moving_average"])
    def test_grey_against_scipy_signal_and_loop(self, boundary, name):
        x = np.random.default_rng(1).random((17, 23))
        k = filters.get_kernel(name)
        out = filters.apply(x, k, boundary=boundary)
        ref = ss.correlate2d(x, k, mode="same", boundary=boundary)
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(out, _correlate_loop(x, k, boundary), rtol=1e-12, atol=1e-13)

    @pytest.mark.parametrize("shape", [(4, 4), (2, 6), (3, 8), (9, 9), (12, 13)])
    @pytest.mark.parametrize("separable", [True, False])
    def test_even_wide_and_separable_kernels_with_fill_value(self, shape, separable):
        rng = np.random.default_rng(sum(shape))
        x = rng.random((15, 19))
        k = (np.outer(rng.random(shape[0]), rng.random(shape[1])) if separable
             else rng.standard_normal(shape))
        for boundary in ("fill", "symm", "wrap"):
            out = filters.apply(x, k, boundary=boundary, cval=0.75)
            ref = ss.correlate2d(x, k, mode="same", boundary=boundary, fillvalue=0.75)
            np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-12, err_msg=boundary)
            strided = filters.apply(x, k, boundary=boundary, cval=0.75, stride=(3, 2))
            np.testing.assert_allclose(strided, ref[::3, ::2], rtol=1e-11, atol=1e-12)

    def test_colour_channel_by_channel_and_stride(self):
        x = np.random.default_rng(2).integers(0, 256, (20, 31, 3)).astype(np.uint8)
        k = filters.gaussian(5, 1.2)
        out = filters.apply(x, k, stride=(2, 3))
        assert out.shape == (10, 11, 3) and out.dtype == np.float64
        for c in range(3):
            ref = ss.correlate2d(x[:, :, c] / 255.0, k, mode="same", boundary="symm")[::2, ::3]
            np.testing.assert_allclose(out[:, :, c], ref, rtol=1e-12, atol=1e-14)

    def test_large_gaussian_on_photograph_sized_image(self):
        x = np.random.default_rng(3).random((120, 90)).astype(np.float32)
        out = filters.apply(x, filters.gaussian(101))
        assert out.dtype == np.float32
        ref = ndi.correlate(x.astype(np.float64), filters.gaussian(101), mode="reflect")
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)

    def test_value_range_conventions(self):
        u8 = np.array([[0, 255]], dtype=np.uint8)
        np.testing.assert_array_equal(filters.apply(u8, filters.identity()), [[0.0, 1.0]])
        np.testing.assert_array_equal(
            filters.apply(u8, filters.identity(), preserve_range=True), [[0.0, 255.0]])
        u16 = np.array([[65535]], dtype=np.uint16)
        np.testing.assert_array_equal(filters.apply(u16, filters.identity()), [[1.0]])
        i8 = np.array([[-128, 127]], dtype=np.int8)     # not a photograph dtype: values kept
        np.testing.assert_array_equal(filters.apply(i8, filters.identity()), [[-128.0, 127.0]])
        assert filters.apply(np.ones((3, 3), np.float16), filters.box()).dtype == np.float32
        assert filters.apply(np.ones((3, 3), bool), filters.box()).dtype == np.float64
        out = filters.apply(np.zeros((3, 3)), filters.identity(), boundary="fill", cval=2.0)
        np.testing.assert_array_equal(out, 0.0)
        np.testing.assert_allclose(filters.apply(np.zeros((3, 3)), filters.box(), "fill", cval=9.0),
                                   ss.correlate2d(np.zeros((3, 3)), filters.box(), "same", "fill",
                                                  9.0))

    def test_errors(self):
        with pytest.raises(ValueError, match=r"image must be \(H, W\) grey or \(H, W, C\) colour"):
            filters.apply(np.zeros(5), filters.box())
        with pytest.raises(ValueError, match="image must not be empty"):
            filters.apply(np.zeros((0, 4)), filters.box())
        with pytest.raises(TypeError, match="image must hold real numbers"):
            filters.apply(np.zeros((3, 3), complex), filters.box())
        with pytest.raises(ValueError, match="kernel must be a non-empty 1-D or 2-D array"):
            filters.apply(np.zeros((3, 3)), np.ones((2, 2, 2)))
        with pytest.raises(ValueError, match="kernel must be finite"):
            filters.apply(np.zeros((3, 3)), [[np.nan]])
        with pytest.raises(TypeError, match="kernel must hold real numbers"):
            filters.apply(np.zeros((3, 3)), ["a"])
        with pytest.raises(ValueError, match="boundary must be one of .*; got 'reflect'"):
            filters.apply(np.zeros((3, 3)), filters.box(), boundary="reflect")
        with pytest.raises(ValueError, match="stride must be positive, got 0"):
            filters.apply(np.zeros((3, 3)), filters.box(), stride=0)
        with pytest.raises(ValueError, match="cval must be a finite real number"):
            filters.apply(np.zeros((3, 3)), filters.box(), cval=np.nan)


class TestEdges:
    def test_equals_scikit_image_formula(self):
        x = np.random.default_rng(4).integers(0, 256, (19, 21)).astype(np.uint8)
        f = x / 255.0
        ref = np.sqrt((ndi.sobel(f, 0) ** 2 + ndi.sobel(f, 1) ** 2) / 2) / 4
        np.testing.assert_allclose(filters.edges(x), ref, rtol=1e-12, atol=1e-15)

    def test_colour_and_dtype(self):
        x = np.random.default_rng(5).random((9, 8, 3)).astype(np.float32)
        out = filters.edges(x)
        assert out.shape == x.shape and out.dtype == np.float32
        np.testing.assert_allclose(out[:, :, 1], filters.edges(x[:, :, 1]), rtol=1e-6)
        assert np.all(filters.edges(np.ones((5, 5))) == 0)

    def test_skimage_when_installed(self):
        skf = pytest.importorskip("skimage.filters")
        x = np.random.default_rng(6).random((16, 16))
        np.testing.assert_allclose(filters.edges(x), skf.sobel(x), rtol=1e-10, atol=1e-12)

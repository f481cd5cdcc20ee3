"""convcore.functional.linear and batch_norm (and their backward functions): against
torch.nn.functional, numerical gradients, and the layers that call them."""
import itertools

import numpy as np
import pytest

import convcore.functional as F
from convcore import nn
from gradcheck import numerical_grad

rng = np.random.default_rng(18)


def _torch():
    return pytest.importorskip("torch")


class TestLinear:
    @pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 4, 3)])
    @pytest.mark.parametrize("bias", [True, False])
    def test_matches_torch(self, shape, bias):
        torch = _torch()
        x = rng.standard_normal(shape)
        w, b = rng.standard_normal((4, 3)), rng.standard_normal(4) if bias else None
        ref = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w),
                                         None if b is None else torch.tensor(b)).numpy()
        np.testing.assert_allclose(F.linear(x, w, b), ref, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
    @pytest.mark.parametrize("m, k, n", [(3, 7, 5), (16, 300, 13), (33, 40, 3), (1, 1, 1 << 18),
                                         (3, 257, 1021), (4, 16, 1 << 14), (5, 1025, 259),
                                         (17, 513, 515), (32, 64, 4099), (33, 1024, 257)])
    @pytest.mark.parametrize("bias", [True, False])
    def test_small_and_large_batches_against_a_float64_product(self, m, k, n, dtype, rtol, bias):
        """Batches up to SMALL_BATCH rows take the kernel that reads each weight row once (its
        row, batch and k tails included), larger ones GEMM; all agree with NumPy in float64."""
        x = rng.standard_normal((m, k)).astype(dtype)
        w, b = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal(n).astype(dtype)
        ref = x.astype(np.float64) @ w.T.astype(np.float64) + (b if bias else 0)
        y = F.linear(x, w, b if bias else None)
        assert y.dtype == dtype and y.flags.c_contiguous
        scale = np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64) + 1
        np.testing.assert_array_less(np.abs(y - ref), rtol * scale)

    @pytest.mark.parametrize("m", [1, 16, 32])
    def test_small_batch_same_bits_on_any_thread_count(self, m):
        import convcore
        x = rng.standard_normal((m, 777)).astype(np.float32)
        w, b = rng.standard_normal((4099, 777)).astype(np.float32), np.ones(4099, np.float32)
        before = convcore.get_num_threads()
        try:
            results = []
            for threads in (1, 2, 3):
                convcore.set_num_threads(threads)
                results.append(F.linear(x, w, b))
        finally:
            convcore.set_num_threads(before)
        for y in results[1:]:
            np.testing.assert_array_equal(y, results[0])

    @pytest.mark.parametrize("m, k, n", [(20, 8, 16), (32, 120, 84), (7, 3, 1), (29, 785, 10)])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_small_batch_rows_do_not_depend_on_their_order(self, m, k, n, dtype):
        """Each row's outputs are the same bits wherever the row lies in the batch (what
        scikit-learn's sample-order check asks of predictions); a GEMM's partial blocks round
        otherwise on some CPUs."""
        x = rng.standard_normal((m, k)).astype(dtype)
        w, b = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal(n).astype(dtype)
        y = F.linear(x, w, b)
        for seed in range(5):
            order = np.random.default_rng(seed).permutation(m)
            np.testing.assert_array_equal(F.linear(x[order], w, b), y[order])
        np.testing.assert_array_equal(F.linear(x[:1], w, b), y[:1])

    def test_every_build_of_the_weight_row_kernel(self):
        """The baseline, AVX2 and AVX-512 builds (those this CPU runs) of the small-batch kernel
        agree with NumPy in float64 (their vector widths sum in different orders)."""
        from convcore import _cpu
        x = rng.standard_normal((6, 531)).astype(np.float32)
        w, b = rng.standard_normal((23, 531)).astype(np.float32), np.ones(23, np.float32)
        ref = x.astype(np.float64) @ w.T.astype(np.float64) + 1
        scale = np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64) + 1
        for module in _cpu.builds("dense"):
            y = np.empty((6, 23), np.float32)
            module.rows(x, w, b, y, 2)
            np.testing.assert_array_less(np.abs(y - ref), 2e-5 * scale, err_msg=module.__name__)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_every_build_of_the_tap_row_kernel(self, dtype):
        """rows_tap, which reads w = wt[:, :, tap] in place a block of rows at a time, gives
        the bits of rows on the tap copied out, in every build this CPU runs, on 1 and 2
        threads (23 rows: blocks of 4 and three left over; 6 batch rows: a block of 4 and two
        left over), and refuses arrays that do not fit."""
        from convcore import _cpu
        x = rng.standard_normal((6, 531)).astype(dtype)
        wt = rng.standard_normal((23, 531, 5)).astype(dtype)
        b = rng.standard_normal(23).astype(dtype)
        for module in _cpu.builds("dense"):
            for tap, bias, threads in itertools.product((0, 3, 4), (b, b[:0]), (1, 2)):
                w = np.ascontiguousarray(wt[:, :, tap])
                y, want = np.empty((6, 23), dtype), np.empty((6, 23), dtype)
                buf = np.empty((threads, module.ROW_BLOCK * 531), dtype)
                module.rows_tap(x, wt, tap, bias, y, buf, threads)
                module.rows(x, w, bias, want, threads)
                np.testing.assert_array_equal(y, want, err_msg=module.__name__)
            with pytest.raises(ValueError, match="shapes do not agree"):
                module.rows_tap(x, wt, 5, b, y, buf, 1)
            with pytest.raises(ValueError, match="a row of DR_RB"):
                module.rows_tap(x, wt, 0, b, y, np.empty((1, 531), dtype), 1)

    def test_gradients_match_torch_and_numerical(self):
        torch = _torch()
        x, w, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
        gy = rng.standard_normal((2, 5, 4))
        gx, gw, gb = F.linear_backward(gy, x, w)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.linear(tx, tw, tb).backward(torch.tensor(gy))
        for ours, theirs in ((gx, tx), (gw, tw), (gb, tb)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
        loss = lambda: float(np.sum(F.linear(x, w, b) * gy))  # noqa: E731
        for ours, a in ((gx, x), (gw, w), (gb, b)):
            np.testing.assert_allclose(ours, numerical_grad(loss, a), rtol=1e-6, atol=1e-8)

    def test_dtypes_and_what_is_asked(self):
        x32, w32 = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
        assert F.linear(x32, w32).dtype == np.float32
        assert F.linear(x32, w32.astype(np.float64)).dtype == np.float64
        assert F.linear(np.ones((2, 3), int), w32).dtype == np.float64
        gx, gw, gb = F.linear_backward(np.ones((2, 4), np.float32), x32, w32, need_input=False,
                                       need_bias=False)
        assert gx is None and gb is None and gw.dtype == np.float32

    @pytest.mark.parametrize("call, error, match", [
        (lambda: F.linear(np.ones((2, 3)), np.ones((4, 2))), ValueError, "in_features=2"),
        (lambda: F.linear(np.ones((2, 3)), np.ones(3)), ValueError, "weight must be 2-D"),
        (lambda: F.linear(np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), ValueError,
         r"bias must have shape \(4,\)"),
        (lambda: F.linear(np.ones((2, 3), complex), np.ones((4, 3))), TypeError, "input must hold"),
        (lambda: F.linear_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((4, 3))), ValueError,
         r"grad_output must have the output's shape \(2, 4\)"),
    ])
    def test_bad_input(self, call, error, match):
        with pytest.raises(error, match=match):
            call()

    def test_layer_goes_through_it(self):
        layer = nn.Linear(3, 4, dtype=np.float64)
        x, gy = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
        np.testing.assert_array_equal(layer(x), F.linear(x, layer.weight.data, layer.bias.data))
        gx = layer.backward(gy)
        ref = F.linear_backward(gy, x, layer.weight.data)
        for ours, theirs in zip((gx, layer.weight.grad, layer.bias.grad), ref):
            np.testing.assert_array_equal(ours, theirs)


class TestBatchNorm:
    @pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2)])
    @pytest.mark.parametrize("affine", [True, False])
    @pytest.mark.parametrize("momentum", [0.1, 0.7])
    def test_training_matches_torch_and_moves_the_statistics(self, shape, affine, momentum):
        torch = _torch()
        x = rng.standard_normal(shape) * 2 + 1
        w, b = (rng.random(3) + 0.5, rng.standard_normal(3)) if affine else (None, None)
        rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        ref = torch.nn.functional.batch_norm(
            torch.tensor(x), trm, trv, None if w is None else torch.tensor(w),
            None if b is None else torch.tensor(b), training=True, momentum=momentum, eps=1e-4)
        y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, eps=1e-4)
        np.testing.assert_allclose(y, ref.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12, atol=1e-12)

    def test_evaluation_and_no_statistics_match_torch(self):
        torch = _torch()
        x = rng.standard_normal((5, 3, 4))
        rm, rv, w, b = rng.standard_normal(3), rng.random(3) + 0.5, rng.random(3), rng.random(3)
        t = [torch.tensor(a) for a in (x, rm, rv, w, b)]
        ref = torch.nn.functional.batch_norm(*t, training=False).numpy()
        np.testing.assert_allclose(F.batch_norm(x, rm, rv, w, b), ref, rtol=1e-12, atol=1e-12)
        ref = torch.nn.functional.batch_norm(t[0], None, None, training=True).numpy()
        np.testing.assert_allclose(F.batch_norm(x, None, None, training=True), ref, rtol=1e-10,
                                   atol=1e-10)

    @pytest.mark.parametrize("training", [True, False])
    def test_gradients_match_torch_and_numerical(self, training):
        torch = _torch()
        x = rng.standard_normal((4, 3, 2, 3))
        rm, rv, w, b = rng.standard_normal(3), rng.random(3) + 0.5, rng.random(3) + 0.5, rng.random(3)
        gy = rng.standard_normal(x.shape)
        _, cache = F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training,
                                return_cache=True)
        gx, gw, gb = F.batch_norm_backward(gy, cache)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        torch.nn.functional.batch_norm(tx, torch.tensor(rm), torch.tensor(rv), tw, tb,
                                       training=training).backward(torch.tensor(gy))
        for ours, theirs in ((gx, tx), (gw, tw), (gb, tb)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-10)
        loss = lambda: float(np.sum(F.batch_norm(x, rm.copy(), rv.copy(), w, b,  # noqa: E731
                                                 training=training) * gy))
        for ours, a in ((gx, x), (gw, w), (gb, b)):
            np.testing.assert_allclose(ours, numerical_grad(loss, a), rtol=1e-5, atol=1e-7)

    def test_no_affine_gives_no_parameter_gradients(self):
        x = rng.standard_normal((4, 2)).astype(np.float32)
        y, cache = F.batch_norm(x, None, None, training=True, return_cache=True)
        gx, gw, gb = F.batch_norm_backward(np.ones_like(y), cache)
        assert y.dtype == gx.dtype == np.float32 and gw is None and gb is None

    @pytest.mark.parametrize("call, error, match", [
        (lambda: F.batch_norm(np.ones((4, 3)), None, None), ValueError,
         "running_mean and running_var must both be given"),
        (lambda: F.batch_norm(np.ones((4, 3)), np.zeros(3), None, training=True), ValueError,
         "must both be given"),
        (lambda: F.batch_norm(np.ones((4, 3)), [0.0] * 3, [1.0] * 3, training=True), TypeError,
         "running_mean must be a writeable float ndarray"),
        (lambda: F.batch_norm(np.ones((4, 3)), np.zeros(2), np.ones(2)), ValueError,
         r"running_mean must have shape \(3,\)"),
        (lambda: F.batch_norm(np.ones((4, 3)), None, None, np.ones(4), training=True), ValueError,
         r"weight must have shape \(3,\)"),
        (lambda: F.batch_norm(np.ones(3), None, None, training=True), ValueError,
         "input must be at least 2-D"),
        (lambda: F.batch_norm(np.ones((1, 3)), None, None, training=True), ValueError,
         "more than one value per channel"),
        (lambda: F.batch_norm(np.ones((2, 3), complex), None, None, training=True), TypeError,
         "input must hold real numbers"),
        (lambda: F.batch_norm(np.ones((4, 3)), None, None, training=True, eps=0.0), ValueError,
         "eps must be positive during training, got 0.0"),
    ])
    def test_bad_input(self, call, error, match):
        with pytest.raises(error, match=match):
            call()

    def test_a_refused_batch_leaves_the_layer_unchanged(self):
        bn = nn.BatchNorm1d(3, dtype=np.float64)
        with pytest.raises(ValueError, match="more than one value per channel"):
            bn(np.ones((1, 3)))
        assert int(bn.num_batches_tracked) == 0
        np.testing.assert_array_equal(bn.running_mean, np.zeros(3))

    def test_layer_goes_through_it(self):
        bn = nn.BatchNorm2d(3, momentum=None, dtype=np.float64)
        bn.weight.data, bn.bias.data = rng.random(3) + 0.5, rng.standard_normal(3)
        x, gy = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((4, 3, 2, 2))
        rm, rv = np.zeros(3), np.ones(3)
        y, cache = F.batch_norm(x, rm, rv, bn.weight.data, bn.bias.data, training=True,
                                momentum=1.0, return_cache=True)  # the first of a cumulative mean
        np.testing.assert_array_equal(bn(x), y)
        np.testing.assert_array_equal(bn.running_mean, rm)
        gx = bn.backward(gy)
        for ours, theirs in zip((gx, bn.weight.grad, bn.bias.grad),
                                F.batch_norm_backward(gy, cache)):
            np.testing.assert_array_equal(ours, theirs)


class TestActivations:
    CASES = [  # (ours, its backward from (grad, input, output, cache), torch's)
        (F.relu, lambda g, x, y, c: F.relu_backward(g, y), "relu"),
        (lambda x: F.leaky_relu(x, 0.2), lambda g, x, y, c: F.leaky_relu_backward(g, x, 0.2),
         "leaky_relu"),
        (F.sigmoid, lambda g, x, y, c: F.sigmoid_backward(g, y), "sigmoid"),
        (F.tanh, lambda g, x, y, c: F.tanh_backward(g, y), "tanh"),
        (F.gelu, lambda g, x, y, c: F.gelu_backward(g, c), "gelu"),
        (lambda x: F.gelu(x, "tanh"), lambda g, x, y, c: F.gelu_backward(g, c), "gelu_tanh"),
    ]

    @pytest.mark.parametrize("forward, backward, name", CASES, ids=[c[2] for c in CASES])
    def test_match_torch_and_numerical_gradients(self, forward, backward, name):
        torch = _torch()
        x, g = rng.standard_normal((3, 7)) * 2, rng.standard_normal((3, 7))
        tf = torch.nn.functional
        theirs = {"relu": tf.relu, "leaky_relu": lambda t: tf.leaky_relu(t, 0.2),
                  "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": tf.gelu,
                  "gelu_tanh": lambda t: tf.gelu(t, approximate="tanh")}[name]
        tx = torch.tensor(x, requires_grad=True)
        ref = theirs(tx)
        ref.backward(torch.tensor(g))
        y = forward(x)
        cache = F.gelu(x, "tanh" if name == "gelu_tanh" else "none", return_cache=True)[1]
        gx = backward(g, x, y, cache)
        np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        loss = lambda: float(np.sum(forward(x) * g))  # noqa: E731
        np.testing.assert_allclose(gx, numerical_grad(loss, x), rtol=1e-5, atol=1e-7)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_relu_of_special_values_as_torch(self, dtype, monkeypatch):
        # a NaN output passes its gradient on in PyTorch (threshold_backward: 0 where the output
        # is <= 0); the compiled kernel (contiguous, several threads) and NumPy's path (strided)
        from convcore.functional import activations
        torch = _torch()
        monkeypatch.setattr(activations, "_GRAIN", 1)
        special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-30], dtype)
        x = np.tile(special, 40)
        g = rng.standard_normal(x.size).astype(dtype)
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.relu(tx)
        ty.backward(torch.tensor(g))
        for xs, gs, sel in ((x, g, slice(None)), (x[::2], g[::2], slice(None, None, 2))):
            y = F.relu(xs)
            np.testing.assert_array_equal(y, ty.detach().numpy()[sel])
            np.testing.assert_array_equal(F.relu_backward(gs, y), tx.grad.numpy()[sel])

    @staticmethod
    def _tanh_ulps(got, x):
        """|got - tanh(x)| in units in the last place of the exact result's dtype, from a
        reference of wider precision (float64 for float32; long double for float64, where it is
        wider than double)."""
        wide = np.float64 if x.dtype == np.float32 else np.longdouble
        ref = np.tanh(x.astype(wide))
        spacing = np.spacing(np.abs(ref.astype(x.dtype))).astype(wide)
        return (np.abs(got.astype(wide) - ref) / spacing).astype(np.float64)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_tanh_within_ulps_of_the_exact_value(self, dtype):
        # the compiled tanh (a polynomial below 0.45, expm1-based above) across its ranges: tiny,
        # around the branch points 0.45 and ln(3)/2, the saturation to +-1, subnormals
        big = 10.0 if dtype == np.float32 else 22.0
        x = np.concatenate([
            np.exp(rng.uniform(-100, 0, 20_000)), rng.uniform(0, 1, 200_000),
            rng.uniform(0.44, 0.56, 50_000), rng.uniform(0, 25, 200_000),
            [np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny, 0.45, np.log(3) / 2, big]])
        x = np.concatenate([x, -x]).astype(dtype)
        y = F.tanh(x)
        assert y.dtype == dtype
        # long double as wide as double (some platforms): the reference's own ulp counts too
        bound = 1.5 if dtype == np.float32 or np.finfo(np.longdouble).nmant > 52 else 2.5
        assert self._tanh_ulps(y, x).max() <= bound
        np.testing.assert_array_equal(y, -F.tanh(-x))  # odd
        assert np.all(np.abs(y) <= 1)
        # tanh rounds to +-1 from about 9.01 (float32), 19.06 (float64): ours gives exactly +-1
        sat = np.array([19.1, 30.0, 1e10, np.finfo(dtype).max, np.inf], dtype)
        np.testing.assert_array_equal(F.tanh(sat), np.ones(5, dtype))
        np.testing.assert_array_equal(F.tanh(-sat), -np.ones(5, dtype))

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_tanh_special_values_layouts_and_threads(self, dtype, monkeypatch):
        import convcore
        from convcore.functional import activations
        monkeypatch.setattr(activations, "_GRAIN", 1)  # several threads even for small arrays
        special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -1e-30], dtype)
        y = F.tanh(special)
        np.testing.assert_array_equal(y, np.tanh(special))  # NaN, +-1, +-0, x itself when tiny
        assert list(np.signbit(y[:2])) == [False, True]
        x = (rng.standard_normal((5, 3, 67, 41)) * 3).astype(dtype)
        try:
            results = []
            for threads in (1, 2, 3):
                convcore.set_num_threads(threads)
                results.append(F.tanh(x))
                z = x.copy()
                assert F.tanh(z, inplace=True) is z
                np.testing.assert_array_equal(z, results[-1])
        finally:
            convcore.set_num_threads(None)
        for r in results[1:]:
            np.testing.assert_array_equal(r, results[0])  # any thread count: the same bits
        assert self._tanh_ulps(results[0], x).max() <= 2.5
        strided = x[:, :, ::2, 1::3]  # not contiguous: NumPy's tanh
        np.testing.assert_array_equal(F.tanh(strided), np.tanh(strided))
        np.testing.assert_array_equal(F.tanh(np.array([0, 1])), np.tanh([0, 1]))  # integers
        with pytest.raises(TypeError, match=r"tanh\(inplace=True\) needs a writeable float"):
            F.tanh(np.arange(3), inplace=True)

    @pytest.mark.parametrize("name", ["relu", "tanh"])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_activation_backward_in_place_gives_the_same_bits(self, name, dtype):
        backward = getattr(F, f"{name}_backward")
        y = getattr(F, name)((rng.standard_normal((4, 3, 9, 7)) * 2).astype(dtype))
        g = rng.standard_normal(y.shape).astype(dtype)
        expected = backward(g, y)
        np.testing.assert_array_equal(expected, g * (1 - y * y) if name == "tanh" else g * (y > 0))
        h = g.copy()
        assert backward(h, y, inplace=True) is h
        np.testing.assert_array_equal(h, expected)
        h = g.copy()
        h.flags.writeable = False  # a new array, as where the kernel may not run
        out = backward(h, y, inplace=True)
        assert out is not h
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(h, g)

    def test_tanh_matches_torch_in_float32(self):
        torch = _torch()
        x = (rng.standard_normal(100_000) * 4).astype(np.float32)
        ours = F.tanh(x)
        theirs = torch.tanh(torch.from_numpy(x)).numpy()
        # both within a couple of ulp of the exact value
        np.testing.assert_allclose(ours, theirs, rtol=4 * np.finfo(np.float32).eps, atol=0)

    def test_dropout_mask_and_gradient(self):
        x = rng.standard_normal((50, 40))
        y, mask = F.dropout(x, 0.25, rng=np.random.default_rng(5), return_mask=True)
        assert set(np.unique(mask)) == {0.0, 1 / 0.75}
        assert abs(np.mean(mask == 0) - 0.25) < 0.03
        np.testing.assert_array_equal(y, x * mask)
        np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), mask), mask)
        assert F.dropout(x, 0.25, training=False) is x
        assert F.dropout_backward(x, None) is x

    @pytest.mark.parametrize("call, error, match", [
        (lambda: F.relu(np.ones(2, complex)), TypeError, "input must hold real numbers"),
        (lambda: F.gelu(np.ones(2), "erf"), ValueError, "approximate must be 'none' or 'tanh'"),
        (lambda: F.dropout(np.ones(2), 1.0), ValueError, r"p must be in \[0, 1\)"),
        (lambda: F.dropout(np.ones(2), "0.5"), TypeError, "p must be a number"),
    ])
    def test_bad_input(self, call, error, match):
        with pytest.raises(error, match=match):
            call()

"""convcore.functional softmax and losses: against torch.nn.functional (values and autograd
gradients, every reduction, target kind and dtype), against plain NumPy loops written from the
slide's formulas, against central differences, and their errors."""
import numpy as np
import pytest

from convcore import functional as F
from convcore import losses

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}


def _logits(shape, dtype, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 2).astype(dtype)


def _targets(kind, shape, c, rng):
    """Class indices of the unreduced loss's shape, or probability rows of the input's shape."""
    batch = shape[:1] + shape[2:] if len(shape) > 1 else ()
    labels = rng.integers(0, c, batch)
    if kind == "index":
        return labels
    onehot = np.moveaxis(np.eye(c)[labels], -1, 1 if len(shape) > 1 else 0)
    if kind == "onehot":
        return onehot
    soft = rng.random(shape) + 0.1
    return soft / soft.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def _torch_value_and_grad(torch, fn, x, *args, reduction, grad_output=None, **kwargs):
    tx = torch.tensor(x, requires_grad=True)
    out = fn(tx, *args, reduction=reduction, **kwargs)
    out.backward(None if grad_output is None else torch.tensor(grad_output))
    return out.detach().numpy(), tx.grad.numpy()


def _grad_output(reduction, value, dtype, rng):
    if reduction == "none":
        return rng.standard_normal(np.shape(value)).astype(dtype)
    return 1.0


# ----------------------------------------------------------------------------- against PyTorch

class TestAgainstTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")
        self.tF = self.torch.nn.functional

    def _check(self, ours, our_grad, ref, ref_grad, dtype):
        if np.ndim(ours):
            assert ours.dtype == dtype
        else:
            assert isinstance(ours, dtype)
        np.testing.assert_allclose(ours, ref, **TOL[dtype])
        assert our_grad.dtype == dtype
        np.testing.assert_allclose(our_grad, ref_grad, **TOL[dtype])

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("kind", ["index", "onehot", "soft"])
    @pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 5), (2, 3, 2, 2)])
    @pytest.mark.parametrize("weighted, smoothing", [(False, 0.0), (True, 0.0), (False, 0.2),
                                                     (True, 0.3)])
    def test_cross_entropy(self, dtype, reduction, kind, shape, weighted, smoothing):
        torch, rng = self.torch, np.random.default_rng(1)
        c = shape[1] if len(shape) > 1 else shape[0]
        x, y = _logits(shape, dtype), _targets(kind, shape, c, rng)
        if kind != "index":
            y = y.astype(dtype)
        w = rng.random(c).astype(dtype) + 0.2 if weighted else None
        options = dict(weight=w, label_smoothing=smoothing)
        ours = F.cross_entropy(x, y, reduction=reduction, **options)
        g = _grad_output(reduction, ours, dtype, rng)
        ref, ref_grad = _torch_value_and_grad(
            torch, self.tF.cross_entropy, x, torch.tensor(y), reduction=reduction, grad_output=g,
            weight=None if w is None else torch.tensor(w), label_smoothing=smoothing)
        grad = F.cross_entropy_backward(g, x, y, reduction=reduction, **options)
        self._check(ours, grad, ref, ref_grad, dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 5)])
    @pytest.mark.parametrize("weighted", [False, True])
    def test_nll_loss(self, dtype, reduction, shape, weighted):
        torch, rng = self.torch, np.random.default_rng(2)
        c = shape[1] if len(shape) > 1 else shape[0]
        x = F.log_softmax(_logits(shape, dtype), dim=1 if len(shape) > 1 else 0)
        y = _targets("index", shape, c, rng)
        w = rng.random(c).astype(dtype) + 0.2 if weighted else None
        ours = F.nll_loss(x, y, weight=w, reduction=reduction)
        g = _grad_output(reduction, ours, dtype, rng)
        ref, ref_grad = _torch_value_and_grad(
            torch, self.tF.nll_loss, x, torch.tensor(y), reduction=reduction, grad_output=g,
            weight=None if w is None else torch.tensor(w))
        self._check(ours, F.nll_loss_backward(g, x, y, weight=w, reduction=reduction), ref,
                    ref_grad, dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    @pytest.mark.parametrize("name, options", [("mse_loss", {}), ("l1_loss", {}),
                                               ("binary_cross_entropy_with_logits", {}),
                                               ("binary_cross_entropy_with_logits",
                                                {"pos_weight": 2.5})])
    def test_elementwise(self, dtype, reduction, name, options):
        torch, rng = self.torch, np.random.default_rng(3)
        x = _logits((5, 3), dtype)
        t = rng.random((5, 3)).astype(dtype)
        t[0, 0] = x[0, 0]  # a tie: the L1 gradient is 0 there in both
        ours = getattr(F, name)(x, t, reduction=reduction, **options)
        g = _grad_output(reduction, ours, dtype, rng)
        torch_options = {k: torch.tensor(v) for k, v in options.items()}
        ref, ref_grad = _torch_value_and_grad(torch, getattr(self.tF, name), x, torch.tensor(t),
                                              reduction=reduction, grad_output=g, **torch_options)
        grad = getattr(F, name + "_backward")(g, x, t, reduction=reduction, **options)
        self._check(ours, grad, ref, ref_grad, dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("shape, dim", [((5,), 0), ((5,), -1), ((3, 4), 1), ((3, 4), 0),
                                            ((2, 3, 4), 1), ((2, 3, 4), -1)])
    @pytest.mark.parametrize("log", [False, True])
    def test_softmax(self, dtype, shape, dim, log):
        torch = self.torch
        x = _logits(shape, dtype) * 50  # large logits: the stable form matters
        fn, back = (F.log_softmax, F.log_softmax_backward) if log else (F.softmax, F.softmax_backward)
        ref_fn = self.tF.log_softmax if log else self.tF.softmax
        g = np.random.default_rng(4).standard_normal(shape).astype(dtype)
        tx = torch.tensor(x, requires_grad=True)
        out = ref_fn(tx, dim=dim)
        out.backward(torch.tensor(g))
        ours = fn(x, dim=dim)
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, out.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(back(g, ours, dim=dim), tx.grad.numpy(), **TOL[dtype])

    @pytest.mark.parametrize("cls, fn, kwargs", [
        (losses.CrossEntropyLoss, "cross_entropy", {"label_smoothing": 0.1}),
        (losses.NLLLoss, "nll_loss", {}), (losses.MSELoss, "mse_loss", {}),
        (losses.MAELoss, "l1_loss", {}), (losses.BCEWithLogitsLoss, "binary_cross_entropy_with_logits", {}),
    ])
    @pytest.mark.parametrize("reduction", REDUCTIONS)
    def test_loss_classes_as_torch_modules(self, cls, fn, kwargs, reduction):
        torch, rng = self.torch, np.random.default_rng(5)
        x = _logits((4, 3), np.float64)
        if cls in (losses.CrossEntropyLoss, losses.NLLLoss):
            y = rng.integers(0, 3, 4)
        else:
            y = rng.random((4, 3))
        loss = cls(reduction=reduction, **kwargs)
        value = loss(x, y)
        g = _grad_output(reduction, value, np.float64, rng)
        ref, ref_grad = _torch_value_and_grad(torch, getattr(self.tF, fn), x, torch.tensor(y),
                                              reduction=reduction, grad_output=g, **kwargs)
        assert isinstance(value, np.ndarray if reduction == "none" else float)
        np.testing.assert_allclose(value, ref, rtol=1e-12)
        grad = loss.backward(g) if reduction == "none" else loss.backward()
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)

    def test_empty_batch_is_nan_for_mean(self):
        torch = self.torch
        for target in (np.zeros(0, int), np.zeros((0, 3))):
            ref = self.tF.cross_entropy(torch.zeros(0, 3, dtype=torch.float64), torch.tensor(target))
            ours = F.cross_entropy(np.zeros((0, 3)), target)
            assert np.isnan(ours) and np.isnan(ref.item())
            assert F.cross_entropy(np.zeros((0, 3)), target, reduction="sum") == 0.0
            assert F.cross_entropy(np.zeros((0, 3)), target, reduction="none").shape == (0,)


# ----------------------------------------------------------------------------- plain NumPy formulas

def cross_entropy_loops(x, y, reduction, weight=None, eps=0.0):
    """The slide's L = -sum_i sum_j y_ij log(softmax(x_i)_j), with PyTorch's class weights and
    smoothing, one sample and one class at a time; y holds one-hot or soft rows."""
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    per_sample = []
    for i in range(n):
        e = [np.exp(v) for v in x[i]]
        total = 0.0
        for j in range(c):
            q = (1 - eps) * y[i][j] + eps / c
            total -= w[j] * q * np.log(e[j] / sum(e))
        per_sample.append(total)
    if reduction == "none":
        return np.array(per_sample)
    return sum(per_sample) / (n if reduction == "mean" else 1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([1.0, 2.0, 0.5])])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_cross_entropy_probabilities_by_the_slide_formula(reduction, weight, eps):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 3))
    y = rng.random((5, 3))
    y /= y.sum(axis=1, keepdims=True)
    expected = cross_entropy_loops(x, y, reduction, weight, eps)
    ours = F.cross_entropy(x, y, weight=weight, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_hot_rows_equal_class_indices(reduction):
    rng = np.random.default_rng(7)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(F.cross_entropy(x, onehot, reduction=reduction),
                               F.cross_entropy(x, labels, reduction=reduction), rtol=1e-12)
    np.testing.assert_allclose(
        F.cross_entropy_backward(np.ones(6) if reduction == "none" else 1.0, x, onehot, reduction=reduction),
        F.cross_entropy_backward(np.ones(6) if reduction == "none" else 1.0, x, labels, reduction=reduction),
        rtol=1e-12)
    # and the gradient is the slide's softmax minus the one-hot target
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(F.cross_entropy_backward(1.0, x, labels, reduction="sum"), p - onehot,
                               rtol=1e-12, atol=1e-15)


def test_softmax_by_the_slide_formula():
    # Softmax(x)_i = e^{x_i} / sum_j e^{x_j}, element by element
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
    expected = [[np.exp(v) / sum(np.exp(u) for u in row) for v in row] for row in x]
    np.testing.assert_allclose(F.softmax(x, dim=1), expected, rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(x, dim=1), np.log(expected), rtol=1e-14)
    np.testing.assert_allclose(F.softmax(x.T, dim=0), np.array(expected).T, rtol=1e-14)
    # stable: huge logits give the softmax of the differences; tiny probabilities a finite log
    np.testing.assert_allclose(F.softmax([1000.0, 1000.0 + np.log(3.0)]), [0.25, 0.75])
    assert F.log_softmax([0.0, 2000.0])[0] == -2000.0
    assert F.softmax(np.float64(3.0)) == 1.0 and F.log_softmax(np.float64(3.0)) == 0.0


def test_regression_losses_by_the_slide_formulas():
    # J = 1/N sum (yhat - y)^2 and J = 1/N sum |yhat - y|, every reduction
    yhat, y = np.array([2.0, -1.0, 0.5, 4.0]), np.array([1.0, 1.0, 0.5, 1.0])
    sq = [(a - b) ** 2 for a, b in zip(yhat, y)]
    ab = [abs(a - b) for a, b in zip(yhat, y)]
    assert F.mse_loss(yhat, y) == sum(sq) / 4 and F.mse_loss(yhat, y, reduction="sum") == sum(sq)
    assert F.l1_loss(yhat, y) == sum(ab) / 4 and F.l1_loss(yhat, y, reduction="sum") == sum(ab)
    np.testing.assert_array_equal(F.mse_loss(yhat, y, reduction="none"), sq)
    np.testing.assert_array_equal(F.l1_loss(yhat, y, reduction="none"), ab)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-7), (np.float64, 4e-16)])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_binary_cross_entropy_of_confident_logits_keeps_its_digits(dtype, rtol, pos_weight):
    # -log sigmoid(z) = log1p(exp(-z)) for y = 1, log1p(exp(z)) for y = 0, in long double: tiny
    # losses where the logit is far on the target's side (softplus(-z) taken as softplus(z) - z
    # gave 0 in float32 from z = 17 and 1e-17 where the loss is 4.2e-18 in float64)
    z = np.array([17.0, 30.0, 40.0, 3.5, -17.0, -30.0, -40.0, -3.5, 100.0, -100.0], dtype)
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1], dtype)
    zl = z.astype(np.longdouble)
    ref = (1.0 if pos_weight is None else pos_weight) * y * np.log1p(np.exp(-zl)) \
        + (1 - y) * np.log1p(np.exp(zl))
    got = F.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight, reduction="none")
    assert got.dtype == dtype
    np.testing.assert_allclose(got.astype(np.longdouble), ref, rtol=rtol, atol=0)


def test_the_slide_cross_entropy_from_probabilities():
    # L = -sum_i sum_j y_ij log(yhat_ij): two events, three classes, probabilities yhat
    y_hat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    slide = -(np.log(0.7) + np.log(0.5))
    assert F.nll_loss(np.log(y_hat), [0, 1], reduction="sum") == pytest.approx(slide, rel=1e-15)
    assert F.cross_entropy(np.log(y_hat), y, reduction="sum") == pytest.approx(slide, rel=1e-15)
    assert F.cross_entropy(np.log(y_hat), [0, 1]) == pytest.approx(slide / 2, rel=1e-15)
    assert losses.CrossEntropyLoss(reduction="sum")(np.log(y_hat), y) == pytest.approx(slide)
    # the trap: probabilities taken as logits are softmaxed again (PyTorch does the same)
    again = np.exp(y_hat) / np.exp(y_hat).sum(axis=1, keepdims=True)
    trap = F.cross_entropy(y_hat, y, reduction="sum")
    assert trap == pytest.approx(-(np.log(again[0, 0]) + np.log(again[1, 1])), rel=1e-14)
    assert trap != pytest.approx(slide, rel=0.1)
    # a probability of exactly 0 where y_ij = 0 contributes 0 log 0 = 0, as in the formula
    assert F.nll_loss(np.array([[0.0, -np.inf]]), [0]) == 0.0   # log p for p = (1, 0)
    assert F.cross_entropy(np.array([[0.0, -np.inf]]), np.array([[1.0, 0.0]])) == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, target", [
    (losses.CrossEntropyLoss(weight=[1.0, 3.0, 0.5], label_smoothing=0.1), np.array([0, 2, 1, 1])),
    (losses.CrossEntropyLoss(weight=[1.0, 3.0, 0.5]), np.random.default_rng(8).dirichlet([1, 1, 1], 4)),
    (losses.NLLLoss(weight=[2.0, 1.0, 0.5]), np.array([2, 0, 1, 1])),
    (losses.MSELoss(), np.random.default_rng(9).standard_normal((4, 3))),
    (losses.MAELoss(), np.random.default_rng(10).standard_normal((4, 3))),
    (losses.BCEWithLogitsLoss(pos_weight=1.5), np.random.default_rng(11).random((4, 3))),
])
def test_gradients_by_central_differences(reduction, loss, target):
    loss.reduction = reduction
    x = np.random.default_rng(12).standard_normal((4, 3))
    value = loss(x, target)
    g = np.random.default_rng(13).standard_normal(value.shape) if reduction == "none" else None
    grad = loss.backward(g)

    def scalar(v):   # the loss contracted with grad_output, a scalar to differentiate
        out = loss(v, target)
        return float(np.sum(out * g)) if reduction == "none" else out

    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = 1e-6
        num[i] = (scalar(x + step) - scalar(x - step)) / 2e-6
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7)


def test_float32_in_float32_out():
    x = _logits((4, 3), np.float32)
    y = np.array([0, 1, 2, 0])
    assert isinstance(F.cross_entropy(x, y), np.float32)
    assert F.cross_entropy(x, np.eye(3)[y]).dtype == np.float32   # float64 targets follow the input
    assert F.cross_entropy(x, y, reduction="none").dtype == np.float32
    assert F.cross_entropy_backward(1.0, x, y, weight=[1.0, 2.0, 3.0]).dtype == np.float32
    assert F.mse_loss_backward(1.0, x, np.zeros((4, 3))).dtype == np.float32
    assert F.softmax(x).dtype == np.float32
    assert F.softmax([1, 2]).dtype == np.float64   # integers: float64


def test_none_backward_needs_grad_output():
    loss = losses.CrossEntropyLoss(reduction="none")
    loss(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction='none' needs grad_output"):
        loss.backward()
    np.testing.assert_allclose(loss.backward(np.array([1.0, 0.0])),
                               [[-2 / 3, 1 / 3, 1 / 3], [0, 0, 0]], rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.cross_entropy(np.zeros((2, 3)), [0, 1], reduction="avg"), ValueError,
     "avg is not a valid value for reduction: expected 'mean', 'sum' or 'none'"),
    (lambda: F.mse_loss([1.0], [1.0], reduction=1), ValueError, "1 is not a valid value for reduction"),
    (lambda: F.mse_loss(np.ones((4, 5)), np.zeros((5, 4))), ValueError,
     r"target shape \(5, 4\) does not match input shape \(4, 5\)"),
    (lambda: F.l1_loss(np.ones((4, 5)), np.zeros(20)), ValueError, "does not match input shape"),
    (lambda: F.binary_cross_entropy_with_logits(np.ones((4, 1)), np.zeros((2, 2))), ValueError,
     "does not match input shape"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), [[1, 0, 0], [0, 1, 0]]), ValueError,
     r"must be floating point, got dtype int64 \(pass np.asarray\(target, dtype=float\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.zeros((2, 4))), ValueError,
     r"or class probabilities of the input's shape \(2, 3\), got shape \(2, 4\)"),
    (lambda: F.nll_loss(np.zeros((2, 3)), np.zeros((2, 3))), ValueError,
     r"nll_loss: target must hold class indices of shape \(2,\), got shape \(2, 3\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), ["a", "b"]), ValueError, "must be integer, got dtype <U1"),
    (lambda: F.cross_entropy(np.array(["a"]), [0]), TypeError, "input must hold real numbers"),
    (lambda: F.softmax(np.zeros((2, 3)), dim=2), ValueError, "dim: axis 2 is out of bounds"),
    (lambda: F.log_softmax(np.zeros(3), dim=-2), IndexError, "dim: axis -2 is out of bounds"),
    (lambda: F.softmax(np.zeros(3), dim=0.5), TypeError, "dim must be an int, got 0.5"),
    (lambda: F.softmax_backward(np.zeros(2), np.zeros(3)), ValueError, r"grad_output must have shape \(3,\)"),
    (lambda: F.cross_entropy_backward(np.ones(3), np.zeros((2, 3)), [0, 1], reduction="none"),
     ValueError, r"grad_output must have the shape of the unreduced loss \(2,\), got \(3,\)"),
    (lambda: F.mse_loss_backward(np.ones(2), [1.0, 2.0], [0.0, 0.0]), ValueError,
     r"grad_output must be a scalar for reduction='mean', got shape \(2,\)"),
    (lambda: F.mse_loss([1.0], ["x"]), TypeError, "target must hold real numbers"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), [0, 1], weight=[1.0, np.nan, 1.0]), ValueError,
     "weight must be a 1-D array of non-negative finite"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_training_with_the_new_losses():
    from convcore import nn, training
    rng = np.random.default_rng(14)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, 90)
    X = (centres[y] + rng.standard_normal((90, 2))).astype(np.float32)

    def model():
        nn.init.manual_seed(0)
        return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))

    with pytest.raises(ValueError, match="reduction='mean' or 'sum', got reduction='none'"):
        model().fit(X, y, verbose=0, loss=losses.CrossEntropyLoss(reduction="none"))
    # the slide's summed cross-entropy trains too (Adam's steps do not scale with the sum)
    history = model().fit(X, y, epochs=10, batch_size=30, lr=0.03, verbose=0,
                          loss=losses.CrossEntropyLoss(reduction="sum"))
    assert history["loss"][-1] < history["loss"][0] and history["accuracy"][-1] > 0.9
    # NLLLoss takes the labels (not converted to floats) like CrossEntropyLoss
    with pytest.raises(ValueError, match="integer class labels"):
        model().fit(X, y + 0.5, verbose=0, loss=losses.NLLLoss())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_indices_give_the_bits_of_their_one_hot_rows(reduction, dtype):
    # class indices read the log-probabilities by index; one-hot rows take the general sums
    gen = np.random.default_rng(5)
    x = (gen.standard_normal((33, 7, 2)) * 4).astype(dtype)
    labels = gen.integers(0, 7, (33, 2))
    onehot = np.moveaxis(np.eye(7, dtype=dtype)[labels], -1, 1)
    g = gen.random((33, 2)).astype(dtype) if reduction == "none" else 1.0
    np.testing.assert_array_equal(F.cross_entropy(x, labels, reduction=reduction),
                                  F.cross_entropy(x, onehot, reduction=reduction))
    np.testing.assert_array_equal(F.cross_entropy_backward(g, x, labels, reduction=reduction),
                                  F.cross_entropy_backward(g, x, onehot, reduction=reduction))
    # nll_loss's gradient builds the one-hot rows from the indices when asked
    np.testing.assert_array_equal(
        F.nll_loss_backward(g, x, labels, reduction="sum" if reduction == "mean" else reduction),
        -onehot * (np.moveaxis(g[..., None], -1, 1) if reduction == "none" else 1))

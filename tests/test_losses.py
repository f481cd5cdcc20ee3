"""convcore.losses: values and gradients (central differences, float64) and PyTorch cross-checks."""
import numpy as np
import pytest
from scipy.special import log_softmax

from convcore import losses

RNG = np.random.default_rng(7)


def check_gradient(loss, pred, target, eps=1e-6):
    loss(pred, target)
    g = loss.backward()
    num = np.zeros_like(pred)
    for i in np.ndindex(pred.shape):
        old = pred[i]
        pred[i] = old + eps
        fp = loss(pred, target)
        pred[i] = old - eps
        fm = loss(pred, target)
        pred[i] = old
        num[i] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(g, num, atol=1e-7, rtol=1e-5)


LABELS = RNG.integers(0, 4, 6)


@pytest.mark.parametrize("loss, pred, target", [
    (losses.MSELoss(), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))),
    (losses.MAELoss(), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))),
    (losses.CrossEntropyLoss(), RNG.standard_normal((6, 4)), LABELS),
    (losses.CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0]), RNG.standard_normal((6, 4)), LABELS),
    (losses.CrossEntropyLoss(label_smoothing=0.2), RNG.standard_normal((6, 4)), LABELS),
    (losses.CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0], label_smoothing=0.1),
     RNG.standard_normal((6, 4)), LABELS),
    (losses.BCEWithLogitsLoss(), RNG.standard_normal((7, 1)), RNG.integers(0, 2, (7, 1))),
    (losses.BCEWithLogitsLoss(pos_weight=2.5), RNG.standard_normal(7), RNG.random(7)),
])
def test_gradients(loss, pred, target):
    check_gradient(loss, pred.copy(), target)


def cross_entropy_by_definition(z, y, weight=None, eps=0.0):
    """PyTorch's cross-entropy, one sample and one class at a time: the smoothed target
    q_c = (1 - eps) [c == y] + eps / C, the loss sum_i sum_c w_c q_ic (-log p_ic) / sum_i w_{y_i}."""
    n, c = z.shape
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=float)
    logp = log_softmax(z, axis=1)  # SciPy's, not convcore's
    total = denom = 0.0
    for i in range(n):
        for k in range(c):
            q = (1 - eps) * (k == y[i]) + eps / c
            total += w[k] * q * -logp[i, k]
        denom += w[y[i]]
    return total / denom


@pytest.mark.parametrize("weight", [None, [1.0, 2.0, 0.5, 3.0], [0.0, 1.0, 4.0, 0.25]])
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
def test_cross_entropy_by_definition(weight, eps):
    rng = np.random.default_rng(11)
    z, y = rng.standard_normal((7, 4)) * 2, np.array([0, 1, 2, 3, 1, 1, 2])
    ours = losses.CrossEntropyLoss(weight=weight, label_smoothing=eps)(z, y)
    assert ours == pytest.approx(cross_entropy_by_definition(z, y, weight, eps), rel=1e-12)


def test_weighted_cross_entropy_divides_by_the_weight_of_the_targets():
    # one sample of class 1 with weight 4: the weight cancels (PyTorch's mean), whatever N
    z = np.array([[0.0, np.log(3.0)]])
    assert losses.CrossEntropyLoss(weight=[1.0, 4.0])(z, np.array([1])) == pytest.approx(-np.log(0.75))
    # classes 0 and 1 with weights 1 and 3: (1 * -log(1/4) + 3 * -log(3/4)) / 4
    loss = losses.CrossEntropyLoss(weight=[1.0, 3.0])
    value = loss(np.array([[0.0, np.log(3.0)]] * 2), np.array([0, 1]))
    assert value == pytest.approx((np.log(4.0) + 3 * np.log(4 / 3)) / 4)
    # the gradient is the softmax minus the one-hot target, weighted the same way
    expected = np.array([[0.25 - 1, 0.75], [3 * 0.25, 3 * (0.75 - 1)]]) / 4
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-12)


def test_label_smoothing_target_distribution():
    # uniform logits: -log p = log C for every class, whatever the target distribution q; and the
    # gradient p - q reveals q itself: q_y = 1 - eps + eps / C, the others eps / C
    eps, c = 0.3, 5
    loss = losses.CrossEntropyLoss(label_smoothing=eps)
    assert loss(np.zeros((1, c)), np.array([2])) == pytest.approx(np.log(c))
    q = np.full(c, eps / c)
    q[2] += 1 - eps
    np.testing.assert_allclose(loss.backward()[0], 1 / c - q, rtol=1e-12, atol=1e-15)


def test_regression_losses_and_bce_by_definition():
    rng = np.random.default_rng(12)
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    mse, mae = losses.MSELoss(), losses.MAELoss()
    assert mse(p, t) == pytest.approx(sum((a - b) ** 2 for a, b in zip(p.flat, t.flat)) / 12)
    np.testing.assert_allclose(mse.backward(), 2 * (p - t) / 12, rtol=1e-12)
    assert mae(p, t) == pytest.approx(sum(abs(a - b) for a, b in zip(p.flat, t.flat)) / 12)
    np.testing.assert_allclose(mae.backward(), np.sign(p - t) / 12, rtol=1e-12)
    z, y = rng.standard_normal(6) * 3, rng.random(6)
    for pw in (None, 2.5):
        w = 1.0 if pw is None else pw
        sig = 1 / (1 + np.exp(-z))
        bce = losses.BCEWithLogitsLoss(pos_weight=pw)
        expected = np.mean(-(w * y * np.log(sig) + (1 - y) * np.log(1 - sig)))
        assert bce(z, y) == pytest.approx(expected, rel=1e-12)
        # d/dz: (w y + 1 - y) sigmoid(z) - w y, over N
        np.testing.assert_allclose(bce.backward(), ((w * y + 1 - y) * sig - w * y) / 6, rtol=1e-10)


def test_hand_values():
    assert losses.MSELoss()(np.array([1.0, 3.0]), np.array([0.0, 0.0])) == 5.0
    assert losses.MAELoss()(np.array([1.0, -3.0]), np.array([0.0, 0.0])) == 2.0
    # two classes, logits (0, log 3): p = (1/4, 3/4)
    ce = losses.CrossEntropyLoss()(np.array([[0.0, np.log(3.0)]]), np.array([1]))
    assert ce == pytest.approx(-np.log(0.75))
    bce = losses.BCEWithLogitsLoss()(np.array([0.0]), np.array([1.0]))
    assert bce == pytest.approx(np.log(2.0))


def test_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0]])
    loss = losses.CrossEntropyLoss()
    assert loss(z, np.array([0])) == 0.0
    assert np.isfinite(loss(z, np.array([1])))
    assert np.all(np.isfinite(loss.backward()))
    bce = losses.BCEWithLogitsLoss()
    assert np.isfinite(bce(np.array([800.0, -800.0]), np.array([0.0, 1.0])))
    assert np.all(np.isfinite(bce.backward()))


def test_float32_stays_float32():
    loss = losses.CrossEntropyLoss()
    loss(RNG.standard_normal((3, 4)).astype(np.float32), np.array([0, 1, 2]))
    assert loss.backward().dtype == np.float32
    bce = losses.BCEWithLogitsLoss()
    bce(np.zeros(3, np.float32), np.ones(3))
    assert bce.backward().dtype == np.float32


def test_against_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    z = RNG.standard_normal((8, 5))
    y = RNG.integers(0, 5, 8)
    w = RNG.random(5) + 0.2
    for kwargs in [{}, {"weight": w}, {"label_smoothing": 0.15}, {"weight": w, "label_smoothing": 0.3}]:
        tz = torch.tensor(z, requires_grad=True)
        tk = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
        ref = tF.cross_entropy(tz, torch.tensor(y), **tk)
        ref.backward()
        ours = losses.CrossEntropyLoss(**kwargs)
        assert ours(z, y) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(ours.backward(), tz.grad.numpy(), rtol=1e-10, atol=1e-14)
    t = RNG.random((8, 5))
    for pw in (None, 3.0):
        tz = torch.tensor(z, requires_grad=True)
        ref = tF.binary_cross_entropy_with_logits(
            tz, torch.tensor(t), pos_weight=None if pw is None else torch.tensor(pw))
        ref.backward()
        ours = losses.BCEWithLogitsLoss(pos_weight=pw)
        assert ours(z, t) == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(ours.backward(), tz.grad.numpy(), rtol=1e-10, atol=1e-14)
    for ours, ref in [(losses.MSELoss(), tF.mse_loss), (losses.MAELoss(), tF.l1_loss)]:
        tz = torch.tensor(z, requires_grad=True)
        r = ref(tz, torch.tensor(t))
        r.backward()
        assert ours(z, t) == pytest.approx(r.item(), rel=1e-12)
        np.testing.assert_allclose(ours.backward(), tz.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: losses.CrossEntropyLoss()(np.zeros(3), np.zeros(3, int)),
     r"target has the input's shape \(3,\), so it holds class probabilities and must be floating"),
    (lambda: losses.CrossEntropyLoss()(np.zeros(()), np.zeros((), int)), "input must be"),
    (lambda: losses.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.5, 1.0])),
     r"target of shape \(2,\) holds class indices and must be integer, got dtype float64"),
    (lambda: losses.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 1, 2])),
     r"target must hold class indices of shape \(2,\) or class probabilities of the input's shape "
     r"\(2, 3\), got shape \(3,\)"),
    (lambda: losses.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3])),
     r"target 3 is out of bounds: class indices must be in \[0, 2\]"),
    (lambda: losses.NLLLoss()(np.zeros((2, 3)), np.array([-1, 0])), r"target -1 is out of bounds"),
    (lambda: losses.NLLLoss()(np.zeros((2, 3)), np.eye(3)[:2]),
     r"nll_loss: target must hold class indices of shape \(2,\), got shape \(2, 3\)"),
    (lambda: losses.CrossEntropyLoss(weight=[1, 2])(np.zeros((2, 3)), np.array([0, 1])),
     "weight has 2 entries but there are 3 classes"),
    (lambda: losses.CrossEntropyLoss(label_smoothing=1.5), r"label_smoothing must be in \[0, 1\]"),
    (lambda: losses.CrossEntropyLoss(weight=[-1.0]), "weight must be a 1-D array of non-negative"),
    (lambda: losses.BCEWithLogitsLoss()(np.zeros(2), np.array([0.0, 2.0])), r"target values must be in \[0, 1\]"),
    (lambda: losses.BCEWithLogitsLoss(pos_weight=0), "pos_weight must be positive"),
    (lambda: losses.MSELoss()(np.zeros(3), np.zeros(4)), r"target shape \(4,\) does not match input shape"),
    (lambda: losses.get_loss("hinge"), "loss must be a Loss or one of"),
    (lambda: losses.MSELoss(reduction="avg"), "avg is not a valid value for reduction"),
    (lambda: losses.NLLLoss(reduction=None), "None is not a valid value for reduction"),
    (lambda: losses.CrossEntropyLoss(reduction="Sum"), "Sum is not a valid value for reduction"),
    (lambda: losses.BCEWithLogitsLoss(reduction="elementwise_mean"),
     "elementwise_mean is not a valid value for reduction"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dtypes_shapes_and_names():
    # float32 predictions stay float32 whatever the target's dtype; integers become float64
    p32, t64 = RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(5)
    for loss in (losses.MSELoss(), losses.MAELoss(), losses.BCEWithLogitsLoss()):
        loss(p32, np.clip(t64, 0, 1))
        assert loss.backward().dtype == np.float32, loss
        loss(np.array([1, 0, 1]), np.array([1.0, 0.0, 0.0]))
        assert loss.backward().dtype == np.float64, loss
    assert losses.MSELoss()(np.array([3, 1]), np.array([1, 1])) == 2.0  # integers, no overflow
    # a target that differs only by axes of length 1 is reshaped to the prediction's
    p, t = RNG.standard_normal((5, 1)), RNG.random(5)
    for loss in (losses.MSELoss(), losses.MAELoss(), losses.BCEWithLogitsLoss()):
        assert loss(p, t) == pytest.approx(loss(p, t.reshape(5, 1)))
        assert loss.backward().shape == (5, 1)
    z = RNG.standard_normal((3, 4)).astype(np.float32)
    ce = losses.CrossEntropyLoss(weight=[1.0, 2.0, 3.0, 4.0])
    ce(z, np.array([0, 1, 3]))
    assert ce.backward().dtype == np.float32
    for name, cls in [("MSE", losses.MSELoss), ("mae", losses.MAELoss), ("L1", losses.MAELoss),
                      ("Cross_Entropy", losses.CrossEntropyLoss), ("bce", losses.BCEWithLogitsLoss)]:
        assert type(losses.get_loss(name)) is cls
    loss = losses.CrossEntropyLoss(weight=[1, 2], label_smoothing=0.1)
    assert losses.get_loss(loss) is loss
    assert repr(loss) == "CrossEntropyLoss(weight=[1.0, 2.0], label_smoothing=0.1)"
    assert repr(losses.BCEWithLogitsLoss(2)) == "BCEWithLogitsLoss(pos_weight=2.0)"
    assert repr(losses.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert type(losses.get_loss("nll")) is losses.NLLLoss


def test_cross_entropy_rows_of_very_different_scales():
    # the log-softmax subtracts each row's own maximum: a row of huge logits next to a row of small
    # ones (a shared maximum would underflow the second row to log 0)
    z = np.array([[1000.0, 999.0], [0.0, -1.0]])
    loss = losses.CrossEntropyLoss()
    expected = np.log1p(np.exp(-1.0))  # -log softmax of the larger logit, in both rows
    assert loss(z, np.array([0, 0])) == pytest.approx(expected)
    assert np.all(np.isfinite(loss.backward()))

"""convcore.nn: gradients by central differences (float64), PyTorch cross-checks, state and naming."""
import math
from collections import OrderedDict

import numpy as np
import pytest
from gradcheck import numerical_grad

import convcore
from convcore import nn

RNG = np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def one_thread():
    """Gradient checks call tiny kernels hundreds of times: one thread keeps them fast on a busy
    machine (thread-count independence is tested with the kernels)."""
    convcore.set_num_threads(1)
    yield
    convcore.set_num_threads(None)


def numerical_check(module, x, atol=1e-6, rtol=1e-5, eps=1e-6):
    """Compare backward() against central differences of sum(forward(x) * r) for x and params."""
    y = module.forward(x.copy())
    r = RNG.standard_normal(y.shape)
    module.zero_grad()
    gx = module.backward(r.copy())

    def f():
        return float(np.sum(module.forward(x) * r))

    num = numerical_grad(f, x, eps)
    np.testing.assert_allclose(gx, num, atol=atol, rtol=rtol, err_msg="input gradient")
    for name, p in module.named_parameters():
        if not p.trainable:
            continue
        nump = numerical_grad(f, p.data, eps)
        np.testing.assert_allclose(p.grad, nump, atol=atol, rtol=rtol, err_msg=name)


def directional_check(module, x, n_dirs=3, eps=1e-6, rtol=1e-6):
    """Cheaper check for whole networks: <grad, d> against the central difference along random
    directions d, for the input and for every parameter tensor."""
    r = RNG.standard_normal(module.forward(x).shape)
    module.zero_grad()
    gx = module.backward(r.copy())

    def f():
        return float(np.sum(module.forward(x) * r))

    targets = [("input", x, gx)] + [(n, p.data, p.grad) for n, p in module.named_parameters()]
    for name, arr, grad in targets:
        for _ in range(n_dirs):
            d = RNG.standard_normal(arr.shape)
            arr += eps * d
            fp = f()
            arr -= 2 * eps * d
            fm = f()
            arr += eps * d
            assert np.sum(grad * d) == pytest.approx((fp - fm) / (2 * eps), rel=rtol, abs=1e-8), name


F64 = np.float64


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(5, 3, dtype=F64), (4, 5)),
    (lambda: nn.Linear(5, 3, bias=False, init="glorot_normal", dtype=F64), (2, 3, 5)),
    (lambda: nn.ReLU(), (3, 7)),
    (lambda: nn.LeakyReLU(0.2), (3, 7)),
    (lambda: nn.Sigmoid(), (3, 7)),
    (lambda: nn.Tanh(), (3, 7)),
    (lambda: nn.GELU(), (3, 7)),
    (lambda: nn.GELU(approximate="tanh"), (3, 7)),
    (lambda: nn.Softmax(dim=1), (3, 5)),
    (lambda: nn.Softmax(dim=-1), (2, 3, 4)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
    (lambda: nn.Identity(), (2, 3)),
])
def test_layer_gradients(layer, shape):
    x = RNG.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU kinks away from the difference step
    numerical_check(layer(), x)


def test_dropout_gradient_uses_same_mask():
    nn.init.manual_seed(3)
    layer = nn.Dropout(0.4)
    x = RNG.standard_normal((6, 5))
    y = layer(x)
    mask = layer._mask
    assert set(np.unique(mask)) <= {0.0, 1 / 0.6}
    np.testing.assert_allclose(y, x * mask)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), mask)
    layer.eval()
    assert layer(x) is x


def test_container_gradients():
    nn.init.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6, dtype=F64), nn.Tanh(), nn.Linear(6, 3, dtype=F64))
    numerical_check(seq, RNG.standard_normal((3, 4)))
    res = nn.Residual(nn.Sequential(nn.Linear(4, 4, dtype=F64), nn.Tanh()),
                      nn.Linear(4, 4, bias=False, dtype=F64))
    numerical_check(res, RNG.standard_normal((3, 4)))
    ident = nn.Residual(nn.Sequential(nn.Linear(4, 4, dtype=F64), nn.Sigmoid()))
    numerical_check(ident, RNG.standard_normal((3, 4)))
    cat = nn.Concat(nn.Linear(4, 2, dtype=F64), nn.Sequential(nn.Linear(4, 3, dtype=F64), nn.GELU()))
    numerical_check(cat, RNG.standard_normal((3, 4)))
    assert cat.output_shape((3, 4)) == (3, 5)


def test_frozen_parameters_get_no_gradient():
    model = nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.ReLU(), nn.Linear(4, 2, dtype=F64))
    model[0].trainable = False
    assert model.trainable and not model[0].trainable
    model(RNG.standard_normal((5, 3)))
    model.backward(np.ones((5, 2)))
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Linear(3, 2, dtype=F64), (4, 3)),
    (lambda: nn.Conv2d(2, 3, 3, dtype=F64), (2, 2, 4, 4)),
    (lambda: nn.BatchNorm2d(2, dtype=F64), (3, 2, 2, 2)),
])
def test_gradients_accumulate(layer, shape):
    """Two backward passes add up (parameter gradients never alias a reused buffer)."""
    layer = layer()
    x = RNG.standard_normal(shape)
    g = RNG.standard_normal(layer(x).shape)
    layer.backward(g)
    first = [p.grad.copy() for p in layer.parameters()]
    layer(x)
    layer.backward(g)
    for p, f in zip(layer.parameters(), first):
        np.testing.assert_allclose(p.grad, 2 * f)


def test_names_state_dict_and_submodules():
    model = nn.Sequential(OrderedDict(features=nn.Sequential(nn.Linear(2, 3), nn.ReLU()),
                                      fc=nn.Linear(3, 1)))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "features", "features.0", "features.1", "fc"]
    assert model.get_submodule("features.0") is model.features[0]
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        model.get_submodule("features.nope")
    state = model.state_dict()
    other = nn.Sequential(OrderedDict(features=nn.Sequential(nn.Linear(2, 3), nn.ReLU()),
                                      fc=nn.Linear(3, 1)))
    other.load_state_dict(state)
    for (n, a), (_, b) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    state["fc.weight"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"mis-shaped keys: fc.weight: expected \(1, 3\)"):
        other.load_state_dict(state)
    del state["fc.weight"]
    state["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match="missing keys: fc.weight.*unexpected keys: extra"):
        other.load_state_dict(state)
    missing, unexpected = other.load_state_dict(state, strict=False)
    assert missing == ["fc.weight"] and unexpected == ["extra"]


def test_repr_and_config_registry():
    model = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.1), nn.Softmax(dim=1))
    assert repr(model) == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                           "  (1): LeakyReLU(negative_slope=0.1)\n  (2): Softmax(dim=1)\n)")
    rebuilt = nn.deserialize(nn.serialize(model))
    assert repr(rebuilt) == repr(model)
    with pytest.raises(ValueError, match="unknown layer class 'Bogus'"):
        nn.deserialize({"class": "Bogus", "config": {}})


def test_train_eval_modes_and_dtype():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert model.training and model[1].training
    model.eval()
    assert not model[1].training
    model.train()
    assert model[1].training
    assert model.dtype == np.float32
    assert model(np.ones((1, 2), dtype=np.float32)).dtype == np.float32


def test_seeded_init_is_reproducible():
    nn.init.manual_seed(42)
    a = nn.Linear(10, 20).weight.data.copy()
    nn.init.manual_seed(42)
    b = nn.Linear(10, 20).weight.data
    np.testing.assert_array_equal(a, b)
    bound = np.sqrt(6 / 10)
    assert np.abs(a).max() <= bound
    w = nn.init.glorot_uniform((300, 200), dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 500)
    assert abs(w.std() - np.sqrt(2 / 500)) < 0.05 * np.sqrt(2 / 500)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Linear(0, 2), ValueError, "in_features must be positive, got 0"),
    (lambda: nn.Linear(2.5, 2), TypeError, "in_features must be an integer"),
    (lambda: nn.Linear(2, 2, init="zeros"), ValueError, "init must be one of"),
    (lambda: nn.Linear(2, 2, dtype=np.int32), TypeError, "dtype must be float32 or float64"),
    (lambda: nn.Linear(3, 2)(np.zeros((1, 4), np.float32)), ValueError, "x must have 3 features"),
    (lambda: nn.Dropout(1.0), ValueError, r"p must be in \[0, 1\), got 1.0"),
    (lambda: nn.GELU("erf"), ValueError, "approximate must be 'none' or 'tanh'"),
    (lambda: nn.Sequential(nn.Linear(2, 2), 3), TypeError, "layer '1' must be a Module"),
    (lambda: nn.Concat(), ValueError, "Concat needs at least one branch"),
    (lambda: nn.Softmax(dim=3)(np.zeros((2, 2))), ValueError, "dim 3 is out of range"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_activations_by_definition():
    """Every activation and its derivative from its formula, element by element with the Python
    standard library (``math.erf`` for the Gaussian CDF): the reference that runs without torch."""
    x = np.concatenate([np.linspace(-6, 6, 49), [-30.0, 30.0, 0.0]])
    cdf = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x]
    pdf = [math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in x]
    c, k = math.sqrt(2 / math.pi), 0.044715
    th = [math.tanh(c * (v + k * v ** 3)) for v in x]
    sig = [1 / (1 + math.exp(-v)) for v in x]
    cases = [
        (nn.GELU(), [v * p for v, p in zip(x, cdf)], [p + v * d for v, p, d in zip(x, cdf, pdf)]),
        (nn.GELU("tanh"), [0.5 * v * (1 + t) for v, t in zip(x, th)],
         [0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * k * v * v) for v, t in zip(x, th)]),
        (nn.ReLU(), [max(v, 0.0) for v in x], [float(v > 0) for v in x]),
        (nn.LeakyReLU(0.2), [v if v > 0 else 0.2 * v for v in x], [1.0 if v > 0 else 0.2 for v in x]),
        (nn.Sigmoid(), sig, [s * (1 - s) for s in sig]),
        (nn.Tanh(), [math.tanh(v) for v in x], [1 - math.tanh(v) ** 2 for v in x]),
    ]
    for layer, value, slope in cases:
        np.testing.assert_allclose(layer(x), value, rtol=1e-13, atol=1e-15, err_msg=repr(layer))
        np.testing.assert_allclose(layer.backward(np.full_like(x, 2.0)), 2 * np.array(slope),
                                   rtol=1e-12, atol=1e-13, err_msg=repr(layer))
    # the exact GELU and its tanh approximation differ by up to ~5e-4 (so neither passes for the other)
    assert np.max(np.abs(np.array(cases[0][1]) - cases[1][1])) > 1e-4
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, np.log(2.0)]])
    sm = nn.Softmax(dim=1)
    np.testing.assert_allclose(sm(z), [np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), [0.25, 0.25, 0.5]],
                               rtol=1e-14)
    # d softmax_i / d z_j = s_i (delta_ij - s_j): a gradient that is all ones gives zero
    np.testing.assert_allclose(sm.backward(np.ones_like(z)), 0, atol=1e-15)
    g = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    s = sm(z)
    np.testing.assert_allclose(sm.backward(g), [s[0] * (g[0] - s[0, 0]), s[1] * (g[1] - s[1, 2])],
                               rtol=1e-13, atol=1e-16)


def test_softmax_rows_of_very_different_scales_and_dims():
    # each slice subtracts its own maximum: no overflow for huge logits, no 0/0 for a row far
    # below another row's maximum
    z = np.array([[1000.0, 999.0], [0.0, -1.0]])
    expected = [1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(1.0))]
    np.testing.assert_allclose(nn.Softmax(dim=1)(z), [expected, expected], rtol=1e-14)
    np.testing.assert_allclose(nn.Softmax(dim=-2)(z.T), np.array([expected, expected]).T, rtol=1e-14)
    np.testing.assert_allclose(nn.Softmax(dim=-1)(z), nn.Softmax(dim=1)(z))
    for dim in (2, -3):
        with pytest.raises(ValueError, match=f"dim {dim} is out of range"):
            nn.Softmax(dim=dim)(z)


def test_activations_keep_float32():
    x = RNG.standard_normal(5).astype(np.float32)
    for layer in (nn.GELU(), nn.GELU("tanh"), nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Tanh(),
                  nn.ReLU(), nn.Softmax(0)):
        assert layer(x).dtype == np.float32, layer
        assert layer.backward(np.ones_like(x)).dtype == np.float32, layer


def test_activations_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 6))
    tx = torch.tensor(x)
    pairs = [(nn.ReLU(), torch.nn.ReLU()), (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
             (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
             (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
             (nn.Softmax(1), torch.nn.Softmax(1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x), theirs(tx).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_kernels_give_numpys_bits_on_one_and_two_threads(dtype, monkeypatch):
    # the compiled ReLU, its gradient and Tanh's gradient against the NumPy expressions they
    # replace, bit for bit (NaN, infinities, signed zeros included), on 1 and 2 threads; a
    # non-contiguous array takes the NumPy expression. Tanh's forward pass is within 1.5 ulp of
    # NumPy's (tests/test_functional_layers.py), its gradient is compared from its own output
    from convcore.functional import activations
    monkeypatch.setattr(activations, "_GRAIN", 1)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30])
    x = np.concatenate([special, RNG.standard_normal(997) * 3]).astype(dtype).reshape(4, 251)
    g = np.concatenate([RNG.standard_normal(997), special]).astype(dtype).reshape(4, 251)
    relu_y, tanh_y = np.maximum(x, 0), convcore.functional.tanh(x)
    with np.errstate(invalid="ignore"):  # inf * 0
        expected = [relu_y, g * ~(relu_y <= 0), g * (1 - tanh_y * tanh_y)]  # NaN passes g
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            relu, tanh = nn.ReLU(), nn.Tanh()
            got = [relu(x), relu.backward(g), (tanh(x), tanh.backward(g))[1]]
            for ours, ref in zip(got, expected):
                assert ours.dtype == dtype and ours.shape == x.shape
                np.testing.assert_array_equal(ours.view(f"u{ours.itemsize}"),
                                              ref.view(f"u{ref.itemsize}"))
    finally:
        convcore.set_num_threads(None)
    relu = nn.ReLU()
    strided = x[:, ::2]
    np.testing.assert_array_equal(relu(strided), np.maximum(strided, 0))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(relu.backward(g[:, ::2]), g[:, ::2] * ~(relu._y <= 0))
    np.testing.assert_array_equal(relu(np.array([-2, 3])), [0, 3])  # integers: NumPy


def test_linear_against_torch():
    torch = pytest.importorskip("torch")
    layer = nn.Linear(5, 3, dtype=F64)
    ref = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data))
        ref.bias.copy_(torch.tensor(layer.bias.data))
    x = RNG.standard_normal((4, 5))
    tx = torch.tensor(x, requires_grad=True)
    out = ref(tx)
    g = RNG.standard_normal((4, 3))
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(layer(x), out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, ref.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, ref.bias.grad.numpy(), rtol=1e-12)


# -- convolution, pooling, normalisation -----------------------------------------------------------

@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1, dtype=F64), (2, 2, 7)),
    (lambda: nn.Conv2d(2, 4, 3, padding=1, dtype=F64), (2, 2, 5, 5)),
    (lambda: nn.Conv2d(4, 4, (2, 3), stride=(2, 1), dilation=(1, 2), groups=2, bias=False,
                       dtype=F64), (1, 4, 5, 6)),
    (lambda: nn.Conv2d(2, 2, 3, padding="same", dtype=F64), (1, 2, 4, 4)),
    (lambda: nn.Conv3d(1, 2, 2, dtype=F64), (1, 1, 3, 3, 3)),
    (lambda: nn.MaxPool1d(2), (2, 2, 6)),
    (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 5, 5)),
    (lambda: nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda: nn.AvgPool1d(3, stride=1, padding=1), (2, 2, 5)),
    (lambda: nn.AvgPool2d(2, padding=1, count_include_pad=False, ceil_mode=True), (1, 2, 5, 5)),
    (lambda: nn.AvgPool3d(2), (1, 1, 4, 4, 2)),
    (lambda: nn.GlobalAvgPool(), (2, 3, 3, 2)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 5, 5)),
    (lambda: nn.BatchNorm1d(3, dtype=F64), (5, 3)),
    (lambda: nn.BatchNorm1d(3, affine=False, dtype=F64), (4, 3, 2)),
    (lambda: nn.BatchNorm2d(2, dtype=F64), (3, 2, 3, 3)),
    (lambda: nn.BatchNorm2d(2, dtype=F64).eval(), (3, 2, 3, 3)),
])
def test_spatial_layer_gradients(layer, shape):
    x = RNG.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) + RNG.random(shape) * 1e-3
    module = layer()
    numerical_check(module, x)
    assert module.output_shape(shape) == module(x).shape


def test_small_cnn_gradient():
    """A whole small network: conv, BN, pool, residual, concat, flatten, linear."""
    nn.init.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, dtype=F64), nn.BatchNorm2d(3, dtype=F64), nn.Tanh(),
        nn.Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, dtype=F64), nn.Tanh())),
        nn.Concat(nn.MaxPool2d(2), nn.AvgPool2d(2)),
        nn.Flatten(), nn.Linear(24, 4, dtype=F64))
    x = RNG.standard_normal((2, 1, 4, 4))
    directional_check(model, x)
    assert model.output_shape((2, 1, 4, 4)) == (2, 4)


def test_conv_first_layer_can_skip_input_gradient():
    layer = nn.Conv2d(1, 2, 3)
    layer.need_input_grad = False
    layer(np.ones((1, 1, 4, 4), np.float32))
    assert layer.backward(np.ones((1, 2, 2, 2), np.float32)) is None
    assert layer.weight.grad.shape == (2, 1, 3, 3)


def test_batchnorm_running_stats_and_eval():
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=F64)
    x = RNG.standard_normal((4, 3, 2, 2)) * 3 + 1
    bn(x)
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean, 0.2 * mean)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * var)
    assert int(bn.num_batches_tracked) == 1
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    bn.eval()
    y = bn(x)
    np.testing.assert_allclose(y, (x - bn.running_mean[:, None, None]) /
                               np.sqrt(bn.running_var[:, None, None] + 1e-5))
    assert int(bn.num_batches_tracked) == 1
    cumulative = nn.BatchNorm1d(2, momentum=None, dtype=F64)
    a, b = RNG.standard_normal((5, 2)), RNG.standard_normal((5, 2))
    cumulative(a)
    cumulative(b)
    np.testing.assert_allclose(cumulative.running_mean, (a.mean(0) + b.mean(0)) / 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_eval_is_the_affine_map_of_the_running_statistics(dtype, monkeypatch):
    # the compiled one-pass kernel, on a non-contiguous input, on 1 and 2 threads
    from convcore.functional import normalization
    monkeypatch.setattr(normalization, "_GRAIN", 1)
    bn = nn.BatchNorm2d(5, dtype=dtype).eval()
    bn.running_mean[:] = RNG.standard_normal(5)
    bn.running_var[:] = RNG.random(5) + 0.5
    bn.weight.data = RNG.standard_normal(5).astype(dtype)
    bn.bias.data = RNG.standard_normal(5).astype(dtype)
    x = RNG.standard_normal((3, 7, 5, 6)).astype(dtype).transpose(0, 2, 1, 3)  # (3, 5, 7, 6)
    c = (slice(None), None, None)
    expected = ((x.astype(float) - bn.running_mean[c]) / np.sqrt(bn.running_var[c] + 1e-5)
                * bn.weight.data[c] + bn.bias.data[c])
    outs = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            outs.append(bn(x))
    finally:
        convcore.set_num_threads(None)
    assert outs[0].dtype == dtype and outs[0].shape == x.shape
    np.testing.assert_allclose(outs[0], expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (9, 2, 1, 1), (6, 3, 4, 4), (5, 3, 1, 2)])
def test_batchnorm_training_kernels_match_the_formula_on_one_and_two_threads(shape, monkeypatch):
    # float32 batch statistics, output and gradients against the textbook formulas in float64
    # (channel rows shorter and longer than the kernels' 8 accumulators), same bits on 1 and 2
    # threads
    from convcore.functional import normalization
    monkeypatch.setattr(normalization, "_GRAIN", 1)
    x = (RNG.standard_normal(shape) * 3 + 2).astype(np.float32)
    g = RNG.standard_normal(shape).astype(np.float32)
    w, b = RNG.random(shape[1]) + 0.5, RNG.standard_normal(shape[1])
    axes, c = (0, 2, 3), (slice(None), None, None)
    xd = x.astype(float)
    mean, var = xd.mean(axis=axes), xd.var(axis=axes)
    xhat = (xd - mean[c]) / np.sqrt(var[c] + 1e-5)
    m = x.size // shape[1]
    gxhat = g * w[c]
    expected_gx = (gxhat - gxhat.mean(axis=axes)[c]
                   - xhat * (gxhat * xhat).sum(axis=axes)[c] / m) / np.sqrt(var[c] + 1e-5)
    outs = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            bn = nn.BatchNorm2d(shape[1])
            bn.weight.data, bn.bias.data = w.astype(np.float32), b.astype(np.float32)
            y = bn(x)
            outs.append((y, bn.backward(g), bn.weight.grad, bn.bias.grad, bn.running_var))
    finally:
        convcore.set_num_threads(None)
    y, gx, gw, gb, running_var = outs[0]
    assert y.dtype == gx.dtype == np.float32
    np.testing.assert_allclose(y, xhat * w[c] + b[c], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, expected_gx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, (g * xhat).sum(axis=axes), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gb, g.astype(float).sum(axis=axes), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * var * m / (m - 1), rtol=1e-6)
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)


def test_layers_against_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 2, 6, 6))
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, dtype=F64)
    bn = nn.BatchNorm2d(4, momentum=0.3, dtype=F64)
    bn.weight.data = RNG.random(4) + 0.5
    bn.bias.data = RNG.standard_normal(4)
    pool = nn.MaxPool2d(2)
    tconv = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1, dtype=torch.float64)
    tbn = torch.nn.BatchNorm2d(4, momentum=0.3, dtype=torch.float64)
    model = nn.Sequential(conv, bn, nn.ReLU(), pool)
    ref = torch.nn.Sequential(tconv, tbn, torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    ref.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    tx = torch.tensor(x, requires_grad=True)
    out = ref(tx)
    g = RNG.standard_normal(out.shape)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(model(x), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.backward(g), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours = model.state_dict()
    for name, tp in ref.named_parameters():
        np.testing.assert_allclose(model.get_submodule(name.rsplit(".", 1)[0]).__getattribute__(
            name.rsplit(".", 1)[1]).grad, tp.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    for name, buf in ref.state_dict().items():
        np.testing.assert_allclose(ours[name], buf.numpy(), rtol=1e-12, err_msg=name)
    model.eval()
    ref.eval()
    np.testing.assert_allclose(model(x), ref(tx).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_spatial_config_round_trip():
    model = nn.Sequential(nn.Conv2d(1, 2, (3, 1), padding=((1, 1), (0, 0)), groups=1),
                          nn.BatchNorm2d(2, momentum=None), nn.AvgPool2d(2, count_include_pad=False),
                          nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(2, 1))
    rebuilt = nn.deserialize(nn.serialize(model))
    assert repr(rebuilt) == repr(model)
    assert rebuilt.output_shape((1, 1, 6, 6)) == (1, 1)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "groups=2 must divide in_channels=3"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), ValueError, "padding must be an int, a tuple"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, "padding must be at most half the kernel"),
    (lambda: nn.BatchNorm2d(3)(np.zeros((2, 4, 2, 2), np.float32)), ValueError, "x must be 4-D with 3 channels"),
    (lambda: nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32)), ValueError, "more than one value per channel"),
    (lambda: nn.BatchNorm1d(3, momentum=2), ValueError, r"momentum must be in \[0, 1\] or None"),
])
def test_spatial_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False),
                                              (True, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, n", [(7, 600), (600, 7)])
def test_dense_products_in_column_blocks(trans_a, trans_b, dtype, m, n):
    # Linear's products: blocks of 256 output columns over the threads (a ragged last block);
    # a tall, narrow product (a small-map convolution's M @ x^T) in blocks of 256 rows
    from convcore._kernels import dense as _dense
    k = 33
    a = RNG.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = RNG.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(float) @ (b.T if trans_b else b).astype(float)
    outs = []
    for threads in (1, 2):
        c = np.full((m, n), np.nan, dtype=dtype)
        _dense.matmul(a, b, c, trans_a, trans_b, threads)
        outs.append(c)
    np.testing.assert_allclose(outs[0], expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(outs[0], outs[1])
    with pytest.raises(ValueError, match="matmul: array shapes do not agree"):
        _dense.matmul(a, b, np.empty((m + 1, n), dtype), trans_a, trans_b, 1)

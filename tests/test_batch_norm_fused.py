"""Batch normalisation fused with a residual and a ReLU (``F.batch_norm(..., residual=, relu=)``,
``BatchNorm2d.forward(x, residual, relu)``, ResNet's BasicBlock): against PyTorch's
``relu(batch_norm(x) + r)`` and its autograd, numerical gradients, the unfused functions (the
same bits) and every thread count of the compiled kernels."""
import numpy as np
import pytest

import convcore.functional as F
from convcore import nn
from convcore._cpu import load
from convcore.models.resnet import BasicBlock
from convcore.nn.fold import ConvNorm
from gradcheck import numerical_grad

_channels = load("channels")  # the build batch_norm runs on this CPU

rng = np.random.default_rng(16)

SHAPES = [(5, 3, 7, 3), (3, 7, 1, 1), (2, 5, 9), (4, 6), (1, 3, 2, 2)]


def _case(shape, dtype):
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    r = rng.standard_normal(shape).astype(dtype)
    w, b = (rng.random(c) + 0.5).astype(dtype), rng.standard_normal(c).astype(dtype)
    return x, r, w, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_residual", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_forward_and_backward_match_torch(shape, dtype, with_residual, training):
    torch = pytest.importorskip("torch")
    x, r, w, b = _case(shape, dtype)
    c = shape[1]
    rm, rv = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    residual = r if with_residual else None
    ours_rm, ours_rv = rm.copy(), rv.copy()
    y, cache = F.batch_norm(x, ours_rm, ours_rv, w, b, training=training, return_cache=True,
                            residual=residual, relu=True)
    grads = F.batch_norm_backward(gy, cache)
    assert len(grads) == (4 if with_residual else 3)
    tx, tr, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, r, w, b))
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=training)
    ty = torch.relu(ty + tr if with_residual else ty)
    ty.backward(torch.tensor(gy))
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(ours_rm, trm.numpy(), **tol)
    np.testing.assert_allclose(ours_rv, trv.numpy(), **tol)
    theirs = (tx, tw, tb, tr) if with_residual else (tx, tw, tb)
    for ours, t in zip(grads, theirs):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, t.grad.numpy(), **tol)


@pytest.mark.parametrize("with_residual", [True, False])
def test_gradients_match_numerical(with_residual):
    x, r, w, b = _case((4, 3, 2, 3), np.float64)
    gy = rng.standard_normal(x.shape)
    residual = r if with_residual else None
    _, cache = F.batch_norm(x, None, None, w, b, training=True, return_cache=True,
                            residual=residual, relu=True)
    grads = F.batch_norm_backward(gy, cache)

    def loss():
        return float(np.sum(F.batch_norm(x, None, None, w, b, training=True,
                                         residual=residual, relu=True) * gy))
    for ours, a in zip(grads, (x, w, b, r)):
        np.testing.assert_allclose(ours, numerical_grad(loss, a), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_as_the_unfused_functions(shape, dtype):
    x, r, w, b = _case(shape, dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    y, cache = F.batch_norm(x, None, None, w, b, training=True, return_cache=True, residual=r,
                            relu=True)
    gx, gw, gb, gr = F.batch_norm_backward(gy, cache)
    h, ref_cache = F.batch_norm(x, None, None, w, b, training=True, return_cache=True)
    ref_y = F.relu(h + r)
    ref_gr = F.relu_backward(gy, ref_y)
    ref = (ref_y, *F.batch_norm_backward(ref_gr, ref_cache), ref_gr)
    for ours, theirs in zip((y, gx, gw, gb, gr), ref):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_give_the_same_bits_on_1_to_4_threads(dtype):
    x, r, w, b = _case((6, 37, 5, 3), dtype)
    x3, r3 = x.reshape(6, 37, 15), r.reshape(6, 37, 15)
    g = rng.standard_normal(x3.shape).astype(dtype)
    mean, inv_std = x3.mean(axis=(0, 2)), 1 / (x3.std(axis=(0, 2)) + 1)
    results = []
    for threads in (1, 2, 3, 4):
        y = np.empty_like(x3)
        _channels.affine_add(x3, mean, w, b, r3, y, True, threads)
        gm, gx, sums = np.empty_like(x3), np.empty_like(x3), np.empty((2, 37), dtype)
        _channels.batch_norm_relu_backward(g, y, x3, mean, inv_std, w, gm, gx, sums, True,
                                           threads)
        in_place = np.empty_like(x3)  # the mask written where gx goes
        _channels.batch_norm_relu_backward(g, y, x3, mean, inv_std, w, in_place, in_place,
                                           sums.copy(), True, threads)
        np.testing.assert_array_equal(in_place, gx)
        results.append((y, gm, gx, sums))
    np.testing.assert_array_equal(results[0][0], np.maximum(
        (x3 - mean[:, None]) * w[:, None] + b[:, None] + r3, 0))
    np.testing.assert_array_equal(results[0][1], g * ~(results[0][0] <= 0))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("plane", [1, 3, 4, 16, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_of_small_and_larger_planes_against_numpy(plane, dtype):
    """Planes of up to 16 values run image by image with scale and shift per position, larger
    ones plane by plane: both the NumPy formula's bits, with and without the residual and the
    ReLU, on 1 to 3 threads (batches that start and end inside an image)."""
    x = (rng.standard_normal((7, 13, plane)) * 2).astype(dtype)
    r = rng.standard_normal(x.shape).astype(dtype)
    center, scale, shift = (rng.standard_normal(13).astype(dtype) for _ in range(3))
    h = (x - center[:, None]) * scale[:, None] + shift[:, None]
    for threads in (1, 2, 3):
        y = np.empty_like(x)
        _channels.affine(x, center, scale, shift, y, threads)
        np.testing.assert_array_equal(y, h)
        _channels.affine(x, center, scale, shift, y, threads, True)
        np.testing.assert_array_equal(y, np.maximum(h, 0))
        _channels.affine_add(x, center, scale, shift, r, y, True, threads)
        np.testing.assert_array_equal(y, np.maximum(h + r, 0))
        z = x.copy()  # in place
        _channels.affine_add(z, center, scale, shift, r, z, False, threads)
        np.testing.assert_array_equal(z, h + r)


@pytest.mark.parametrize("plane", [1, 4, 16, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_statistics_and_backward_of_small_and_larger_planes_against_numpy(plane, dtype):
    """Planes of up to 16 values are summed image by image per position, larger ones plane by
    plane: the statistics, the sums and the input gradient (batch and running statistics,
    behind a ReLU or not, in place) against the formulas in float64 with NumPy, the same bits
    on 1 to 3 threads."""
    x = (rng.standard_normal((7, 13, plane)) * 2 + 1).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    y = np.maximum(x - 1, 0)  # a ReLU's output, zero on about a third of the values
    scale = (rng.random(13) + 0.5).astype(dtype)
    xd, gd, m = x.astype(float), g.astype(float), 7 * plane
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    mean_d = xd.sum(axis=(0, 2)) / m
    var_d = ((xd - mean_d[:, None]) ** 2).sum(axis=(0, 2)) / m
    results = []
    for threads in (1, 2, 3):
        mean, var = np.empty(13, dtype), np.empty(13, dtype)
        _channels.batch_stats(x, mean, var, threads)
        np.testing.assert_allclose(mean, mean_d, **tol)
        np.testing.assert_allclose(var, var_d, **tol)
        inv_std = (1 / np.sqrt(var + 1e-5)).astype(dtype)
        xhat = (xd - mean.astype(float)[:, None]) * inv_std.astype(float)[:, None]
        run = [mean, var]
        for batch in (True, False):
            gm_d = gd * (y > 0)
            for masked, gg in ((False, gd), (True, gm_d)):
                sg, sgx = gg.sum(axis=(0, 2)), (gg * xhat).sum(axis=(0, 2))
                expected = scale[:, None] * (gg - (sg[:, None] + xhat * sgx[:, None]) / m
                                             if batch else gg)
                gx, sums = np.empty_like(x), np.empty((2, 13), dtype)
                if masked:
                    gm = np.empty_like(x)
                    _channels.batch_norm_relu_backward(g, y, x, mean, inv_std, scale, gm, gx,
                                                       sums, batch, threads)
                    np.testing.assert_array_equal(gm, g * ~(y <= 0))
                    in_place, sums2 = np.empty_like(x), np.empty((2, 13), dtype)
                    _channels.batch_norm_relu_backward(g, y, x, mean, inv_std, scale, in_place,
                                                       in_place, sums2, batch, threads)
                    np.testing.assert_array_equal(in_place, gx)
                    np.testing.assert_array_equal(sums2, sums)
                else:
                    _channels.batch_norm_backward(g, x, mean, inv_std, scale, gx, sums, batch,
                                                  threads)
                np.testing.assert_allclose(sums[0], sg, **tol)
                np.testing.assert_allclose(sums[1], sgx, **tol)
                np.testing.assert_allclose(gx, expected, **tol)
                run += [gx, sums]
        results.append(run)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("level", [100.0, 1000.0])
@pytest.mark.parametrize("plane", [(1, 1), (16, 16)])
@pytest.mark.parametrize("training", [True, False])
def test_float32_channels_far_from_zero_lose_only_the_means_rounding(level, plane, training):
    # channels of mean `level` and spread 0.01: the output's error, against the same float32
    # input normalised in float64, stays within the float32 mean's rounding times 1 / std (as
    # x * scale - mean * scale, the two large products rounded apart, it was 3-5x that; PyTorch's
    # float32 forward errs about as much as this bound)
    x = (level + 0.01 * rng.standard_normal((64, 4) + plane)).astype(np.float32)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3))
    rm, rv = mean.astype(np.float32), var.astype(np.float32)
    y = F.batch_norm(x, None if training else rm, None if training else rv, training=training)
    if not training:
        mean, var = rm.astype(np.float64), rv.astype(np.float64)
    inv_std = 1 / np.sqrt(var + 1e-5)
    ref = (x64 - mean[:, None, None]) * inv_std[:, None, None]
    bound = np.spacing(np.float32(level)) * inv_std + 1e-6
    assert np.all(np.abs(y - ref).max(axis=(0, 2, 3)) <= bound)


def test_relu_keeps_nan_and_clears_negative_zero():
    x = np.array([[np.nan, 1.0], [2.0, 3.0]])
    y = F.batch_norm(x, np.zeros(2), np.ones(2), residual=np.array([[0.0, -1.0], [-2.0, 0.0]]),
                     relu=True, eps=0.0)
    np.testing.assert_array_equal(y, [[np.nan, 0.0], [0.0, 3.0]])
    assert not np.signbit(y[1, 0])


def test_residual_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="residual must have the input's shape"):
        F.batch_norm(np.ones((4, 3)), None, None, training=True, residual=np.ones((4, 2)))


def test_layer_returns_the_residual_gradient():
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    x, r, _, _ = _case((4, 3, 2, 2), np.float64)
    gy = rng.standard_normal(x.shape)
    y = bn.forward(x, residual=r, relu=True)
    gx, gr = bn.backward(gy)
    np.testing.assert_array_equal(gr, gy * (y > 0))
    assert bn.forward(x, relu=True).min() == 0 and bn.backward(gy).shape == x.shape


class _PlainReLU(nn.ReLU):
    """A ReLU of another class: the block then runs its layers one by one."""


@pytest.mark.parametrize("stride, c_in", [(1, 4), (2, 3)])
def test_basic_block_fused_gives_the_bits_of_the_layers_one_by_one(stride, c_in):
    x = rng.standard_normal((3, c_in, 6, 5)).astype(np.float32)
    gy = rng.standard_normal((3, 4, 6 // stride, -(-5 // stride))).astype(np.float32)
    fused = BasicBlock(c_in, 4, stride)
    plain = BasicBlock(c_in, 4, stride)
    plain.load_state_dict(fused.state_dict())
    plain.relu, plain.relu2 = _PlainReLU(), _PlainReLU()
    outs = []
    for block in (fused, plain):
        y = block.forward(x)
        gx = block.backward(gy)
        outs.append((y, gx, *(p.grad for p in block.parameters()),
                     *(b for _, b in block.named_buffers())))
    assert fused._fused and not plain._fused
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def _sequential(relu):
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), relu(),
                         nn.Conv2d(4, 3, 1), nn.BatchNorm2d(3), relu(), nn.Flatten())


@pytest.mark.parametrize("training", [True, False])
def test_sequential_fuses_batch_norm_and_relu_with_the_same_bits(training):
    x = rng.standard_normal((3, 2, 5, 4)).astype(np.float32)
    fused, plain = _sequential(nn.ReLU), _sequential(_PlainReLU)
    plain.load_state_dict(fused.state_dict())
    # each convolution and its normalisation one step (folded in evaluation mode, in both)
    assert [(type(s), s.relu) for s, _ in fused._steps[:2]] == [(ConvNorm, True)] * 2
    assert [getattr(s, "relu", None) for s, _ in plain._steps] == [False, None, False, None, None]
    assert not any(k for _, k in plain._steps)
    outs = []
    for model in (fused, plain):
        model.train(training)
        y = model.forward(x)
        gx = model.backward(np.cos(y))
        outs.append((y, gx, *(p.grad for p in model.parameters()),
                     *(b for _, b in model.named_buffers())))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_sequential_follows_a_replaced_layer():
    model = _sequential(nn.ReLU).eval()
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    assert model(x).min() == 0
    setattr(model, "5", nn.Tanh())  # the last ReLU replaced: no longer fused, and it takes part
    assert [getattr(s, "relu", None) for s, _ in model._steps] == [True, False, None, None]
    assert model(x).min() < 0
    delattr(model, "6")  # a layer removed
    assert len(model._steps) == 3 and model(x).ndim == 4


def test_inception_conv_unit_fused_gives_the_bits_of_the_layers_one_by_one():
    from convcore.models.inception import BasicConv2d
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    gy = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    fused, plain = BasicConv2d(3, 4, 3, padding=1), BasicConv2d(3, 4, 3, padding=1)
    plain.load_state_dict(fused.state_dict())
    plain.relu = _PlainReLU()
    outs = []
    for unit in (fused, plain):
        y = unit.forward(x)
        outs.append((y, unit.backward(gy), *(p.grad for p in unit.parameters())))
    assert fused._fused and not plain._fused
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("training", [True, False])
def test_relu_after_a_convolution_or_linear_layer_works_in_place(training):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 5),
                          nn.ReLU(), nn.Linear(5, 2), _PlainReLU())
    plain = nn.Sequential(*(_PlainReLU() if type(m) is nn.ReLU else m for m in model))
    assert [k for _, k in model._steps] == [{}, {"inplace": True}, {}, {}, {"inplace": True},
                                           {}, {}]
    x = rng.standard_normal((4, 2, 4, 4)).astype(np.float32)
    model.train(training)
    seen = []
    conv = model[0].forward  # the convolution's result becomes the ReLU's output
    object.__setattr__(model[0], "forward", lambda a: seen.append(conv(a)) or seen[-1])
    y = model.forward(x)
    assert np.shares_memory(seen[0], model[1]._y)
    gx = model.backward(np.ones_like(y))
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    y_plain = plain.train(training).forward(x)
    np.testing.assert_array_equal(y, y_plain)
    np.testing.assert_array_equal(gx, plain.backward(np.ones_like(y)))
    for a, p in zip(grads, plain.parameters()):
        np.testing.assert_array_equal(a, p.grad)


class _PlainTanh(nn.Tanh):
    """A Tanh of another class: it works on new arrays."""


def test_activation_before_a_convolution_linear_or_pooling_layer_works_in_place_backward():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(3, 4, 1),
                          nn.ReLU(), nn.Conv2d(4, 4, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16, 5), nn.Tanh(), nn.Linear(5, 2), nn.ReLU())
    plain_class = {nn.ReLU: _PlainReLU, nn.Tanh: _PlainTanh}
    plain = nn.Sequential(*(plain_class[type(m)]() if type(m) in plain_class else m
                            for m in model))
    # (the last ReLU gets the caller's gradient: not overwritten)
    on = {"inplace": True}
    assert [k for _, k in model._back[::-1]] == [{}, on, {}, {}, on, {}, on, {}, {}, {}, on, {}, {}]
    x = rng.standard_normal((4, 2, 10, 10)).astype(np.float32)
    y = model.forward(x)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    seen = []  # the pooling layer's gradient becomes the Tanh's, which the convolution gets

    def spy(g, f):
        seen.extend((g, f(g)))
        return seen[-1]
    for layer in (model[2], model[0]):
        object.__setattr__(layer, "backward", lambda g, f=layer.backward: spy(g, f))
    gy_copy = gy.copy()
    gx = model.backward(gy)
    np.testing.assert_array_equal(gy, gy_copy)
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    np.testing.assert_array_equal(y, plain.forward(x))
    np.testing.assert_array_equal(gx, plain.backward(gy))
    assert seen[1] is seen[2]
    for a, p in zip(grads, plain.parameters()):
        np.testing.assert_array_equal(a, p.grad)


_FOLDING = [  # (convolution, normalisation, input shape)
    (lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1), nn.BatchNorm2d, (4, 3, 9, 8)),
    (lambda: nn.Conv2d(3, 5, 3, bias=False), nn.BatchNorm2d, (4, 3, 6, 6)),
    (lambda: nn.Conv1d(3, 5, 3, padding=1), nn.BatchNorm1d, (4, 3, 11)),
    (lambda: nn.PointConv2d(6, 5, stride=2, bias=False), nn.BatchNorm2d, (4, 6, 5, 5)),
    (lambda: nn.DepthwiseConv2d(5, 3, padding=1, bias=False), nn.BatchNorm2d, (4, 5, 4, 4)),
    (lambda: nn.SeparableConv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d, (4, 4, 5, 5)),
    (lambda: nn.SeparableConv2d(4, 6, 3, padding=1), nn.BatchNorm2d, (4, 4, 2, 2)),
]


def _random_statistics(bn, affine=True):
    c = bn.num_features
    bn.running_mean[:] = rng.uniform(-0.5, 0.5, c)
    bn.running_var[:] = rng.uniform(0.3, 2.0, c)
    if affine:
        bn.weight.data[:] = rng.uniform(0.5, 1.5, c)
        bn.bias.data[:] = rng.uniform(-0.3, 0.3, c)


@pytest.mark.parametrize("case", _FOLDING)
@pytest.mark.parametrize("affine", [True, False])
def test_evaluation_folds_the_normalisation_into_the_convolution(case, affine):
    """conv, batch norm, ReLU in evaluation mode: the layers one by one in float64 (to float32
    rounding); the input gradient and the parameters' gradients the bits of the layers' own."""
    make_conv, norm, shape = case
    conv = make_conv()
    bn = norm(conv.pointwise.out_channels if isinstance(conv, nn.SeparableConv2d)
              else conv.out_channels, affine=affine)
    _random_statistics(bn, affine)
    model = nn.Sequential(conv, bn, nn.ReLU()).eval()
    x = rng.standard_normal(shape).astype(np.float32)
    y = model(x)
    assert type(model._steps[0][0]) is ConvNorm and len(model._steps) == 1
    assert model._steps[0][0]._folded_input is x
    conv64 = type(conv).from_config(dict(conv.get_config(), dtype="float64"))
    conv64.load_state_dict({k: v.astype(np.float64) for k, v in conv.state_dict().items()})
    bn64 = norm.from_config(dict(bn.get_config(), dtype="float64"))
    bn64.load_state_dict({k: v.astype(np.float64) if v.dtype.kind == "f" else v
                          for k, v in bn.state_dict().items()})
    ref = np.maximum(bn64.eval().forward(conv64.eval().forward(x.astype(np.float64))), 0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # backward after a folded forward: the layers' own forward first, so the bits of theirs
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx = model.backward(gy)
    conv2, bn2 = make_conv(), norm(bn.num_features, affine=affine)
    conv2.load_state_dict(conv.state_dict())
    bn2.load_state_dict(bn.state_dict())
    conv2.eval(), bn2.eval()
    g2 = conv2.backward(bn2.backward(gy * (bn2.forward(conv2.forward(x)) > 0)))
    np.testing.assert_array_equal(gx, g2)
    for p, q in zip(model.parameters(), list(conv2.parameters()) + list(bn2.parameters())):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_folding_follows_weights_changed_in_place_and_the_mode():
    conv, bn = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3)
    _random_statistics(bn)
    model = nn.Sequential(conv, bn).eval()
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    y0 = model(x)
    conv.weight.data *= 2  # in place, in evaluation mode: the next call folds the new weights
    bn.running_mean[:] += 1
    np.testing.assert_allclose(model(x), bn.forward(conv.forward(x)), rtol=1e-5, atol=1e-5)
    assert not np.allclose(model(x), y0)
    model.train()  # training: the batch's statistics, not folded, the running ones move
    before = bn.running_mean.copy()
    model(x)
    assert model._steps[0][0]._folded_input is None and not np.array_equal(bn.running_mean, before)


def test_folding_needs_plain_layers_with_running_statistics():
    class DoubledNorm(nn.BatchNorm2d):  # (a name of its own: classes register by name)
        def forward(self, x, residual=None, relu=False):
            return 2 * super().forward(x, residual, relu)
    from convcore.nn.fold import folds
    conv = nn.Conv2d(2, 3, 3)
    assert folds(conv, nn.BatchNorm2d(3)) and not folds(conv, DoubledNorm(3))
    assert not folds(conv, nn.BatchNorm2d(4)) and not folds(nn.Linear(2, 3), nn.BatchNorm1d(3))
    untracked = nn.BatchNorm2d(3, track_running_stats=False).eval()
    model = nn.Sequential(conv, untracked).eval()
    x = rng.standard_normal((4, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(model(x), untracked.forward(conv.forward(x)))
    assert model._steps[0][0]._folded_input is None
    with pytest.raises(ValueError, match="x must be 4-D"):  # unbatched: the layers' own error
        model(x[0])
    # more weights than outputs (a deep layer on 1x1 maps): the normalisation's pass, unfolded
    conv, bn = nn.PointConv2d(64, 32), nn.BatchNorm2d(32)
    _random_statistics(bn)
    model = nn.Sequential(conv, bn).eval()
    x = rng.standard_normal((2, 64, 1, 1)).astype(np.float32)
    np.testing.assert_array_equal(model(x), bn.forward(conv.forward(x)))
    assert model._steps[0][0]._folded_input is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_build_of_the_channel_kernels_gives_the_same_bits(dtype):
    """The baseline, AVX2 and AVX-512 builds (those this CPU runs) of the statistics, the affine
    map with a residual and a ReLU, and the gradient behind the ReLU: the same bits, on small
    planes (the loops per image) and large ones (the loops per channel), NaN included."""
    from convcore import _cpu
    results = {}
    for shape in ((4, 6, 1), (3, 5, 16), (2, 3, 37)):
        x, r, g = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
        x[0, 1, 0] = np.nan
        c = shape[1]
        scale, shift = (rng.standard_normal(c).astype(dtype) for _ in range(2))
        for module in _cpu.builds("channels"):
            mean, var = np.empty(c, dtype), np.empty(c, dtype)
            y, gm, gx = (np.empty_like(x) for _ in range(3))
            sums = np.empty((2, c), dtype)
            module.batch_stats(x, mean, var, 2)
            module.affine_add(x, mean, scale, shift, r, y, True, 2)
            module.batch_norm_relu_backward(g, y, x, mean, np.abs(scale), scale, gm, gx, sums,
                                            True, 2)
            results.setdefault(shape, []).append(
                (module.__name__, b"".join(a.tobytes() for a in (mean, var, y, gm, gx, sums))))
    for shape, found in results.items():
        for name, data in found[1:]:
            assert data == found[0][1], (shape, name)

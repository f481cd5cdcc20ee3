"""convcore.optim: steps against hand-computed values and torch.optim, schedules, clipping."""
import math

import numpy as np
import pytest

from convcore import optim
from convcore.nn import Linear, Parameter


def param(values, grad):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad = np.array(grad, dtype=np.float64)
    return p


def test_sgd_momentum_nesterov_weight_decay_by_hand():
    p = param([1.0], [0.5])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()  # g = 0.5 + 0.1 = 0.6; buf = 0.6; p = 1 - 0.06
    assert p.data[0] == pytest.approx(0.94)
    p.grad = np.array([0.5])
    opt.step()  # g = 0.5 + 0.094 = 0.594; buf = 0.54 + 0.594 = 1.134; p = 0.94 - 0.1134
    assert p.data[0] == pytest.approx(0.8266)
    q = param([1.0], [1.0])
    nest = optim.SGD([q], lr=0.1, momentum=0.5, nesterov=True)
    nest.step()  # buf = 1; g = 1 + 0.5 = 1.5
    assert q.data[0] == pytest.approx(0.85)
    nest.step()  # buf = 0.5 + 1 = 1.5; g = 1 + 0.75 = 1.75
    assert q.data[0] == pytest.approx(0.675)


def test_adam_and_adamw_by_hand():
    p = param([1.0], [2.0])
    opt = optim.Adam([p], lr=0.1)
    opt.step()  # first step of Adam moves by lr * sign(g) (up to eps)
    assert p.data[0] == pytest.approx(0.9, abs=1e-7)
    p.grad = np.array([1.0])
    before = p.data[0]
    opt.step()
    m = 0.9 * 0.2 + 0.1 * 1.0
    v = 0.999 * 0.004 + 0.001 * 1.0
    expected = before - 0.1 * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    assert p.data[0] == pytest.approx(expected, rel=1e-12)
    w = param([2.0], [1.0])
    optim.AdamW([w], lr=0.1, weight_decay=0.5).step()  # 2 * (1 - 0.05) - 0.1
    assert w.data[0] == pytest.approx(1.8, abs=1e-7)
    w2 = param([2.0], [1.0])
    optim.Adam([w2], lr=0.1, weight_decay=0.5).step()  # L2: g = 2, still a lr-sized step
    assert w2.data[0] == pytest.approx(1.9, abs=1e-7)


def test_frozen_and_gradless_parameters_untouched():
    a, b = param([1.0], [1.0]), Parameter(np.array([1.0]))
    a.trainable = False
    opt = optim.SGD([a, b], lr=1.0)
    opt.step()
    assert a.data[0] == 1.0 and b.data[0] == 1.0
    opt.zero_grad()
    assert a.grad is None


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3, "eps": 1e-6}),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.6), "eps": 1e-3}),
    ("SGD", {"lr": 0.1, "momentum": 0.7, "dampening": 0.6, "weight_decay": 0.2}),
]


class ScalarReference:
    """PyTorch's update rules (the pseudo-code of torch.optim.SGD / Adam / AdamW) written out for
    one scalar parameter in plain Python floats: the reference that runs without torch."""

    def __init__(self, name, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=None,
                 betas=(0.9, 0.999), eps=1e-8):
        if weight_decay is None:
            weight_decay = 0.01 if name == "AdamW" else 0.0
        self.name, self.lr, self.mu, self.tau, self.nesterov = name, lr, momentum, dampening, nesterov
        self.wd, (self.b1, self.b2), self.eps = weight_decay, betas, eps
        self.t, self.b, self.m, self.v = 0, None, 0.0, 0.0

    def step(self, theta, g):
        self.t += 1
        if self.name == "SGD":
            g = g + self.wd * theta
            if self.mu:
                self.b = g if self.b is None else self.mu * self.b + (1 - self.tau) * g
                g = g + self.mu * self.b if self.nesterov else self.b
            return theta - self.lr * g
        if self.name == "AdamW":
            theta = theta * (1 - self.lr * self.wd)
        else:
            g = g + self.wd * theta
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1 ** self.t)
        v_hat = self.v / (1 - self.b2 ** self.t)
        return theta - self.lr * m_hat / (math.sqrt(v_hat) + self.eps)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_against_the_update_rules_written_out(name, kwargs):
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 4))
    ours = Parameter(init.copy())
    opt = getattr(optim, name)([ours], **kwargs)
    refs = [ScalarReference(name, **kwargs) for _ in range(init.size)]
    expected = init.reshape(-1).tolist()
    for _ in range(6):
        g = rng.standard_normal((3, 4))
        ours.grad = g.copy()
        opt.step()
        expected = [r.step(theta, gi) for r, theta, gi in zip(refs, expected, g.reshape(-1))]
    np.testing.assert_allclose(ours.data.reshape(-1), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, kwargs", CASES)
def test_against_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 4))
    ours = Parameter(init.copy())
    theirs = torch.tensor(init.copy(), requires_grad=True)
    opt = getattr(optim, name)([ours], **kwargs)
    topt = getattr(torch.optim, name)([theirs], **kwargs)
    for _ in range(6):
        g = rng.standard_normal((3, 4))
        ours.grad = g.copy()
        theirs.grad = torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for ours_cls, kwargs in [(optim.StepLR, {"step_size": 3, "gamma": 0.5}),
                             (optim.CosineAnnealingLR, {"T_max": 7, "eta_min": 0.01})]:
        opt = optim.SGD(Linear(2, 2), lr=0.1)
        tparam = torch.zeros(1, requires_grad=True)
        topt = torch.optim.SGD([tparam], lr=0.1)
        sched = ours_cls(opt, **kwargs)
        tsched = getattr(torch.optim.lr_scheduler, ours_cls.__name__)(topt, **kwargs)
        for _ in range(10):
            topt.step()
            tsched.step()
            assert sched.step() == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


def test_cosine_by_hand():
    opt = optim.SGD(Linear(2, 2), lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=4)
    assert [round(sched.step(), 12) for _ in range(4)] == [
        round((1 + math.cos(math.pi * k / 4)) / 2, 12) for k in range(1, 5)]
    assert opt.lr == 0.0


def test_clip_grad_norm():
    a, b = param([0.0], [3.0]), param([0.0, 0.0], [0.0, 4.0])
    assert optim.clip_grad_norm([a, b], 10.0) == pytest.approx(5.0)
    assert b.grad[1] == 4.0  # below the limit: unchanged
    total = optim.clip_grad_norm([a, b], 1.0)
    assert total == pytest.approx(5.0)
    assert math.hypot(a.grad[0], b.grad[1]) == pytest.approx(1.0, rel=1e-5)
    c = param([0.0, 0.0], [-3.0, 2.0])
    assert optim.clip_grad_norm([c], 1.0, norm_type=math.inf) == 3.0


@pytest.mark.parametrize("call, exc, match", [
    (lambda: optim.SGD([], lr=0.1), ValueError, "params is empty"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1), TypeError, "params must be Parameters"),
    (lambda: optim.SGD(Linear(2, 2), lr=-1), ValueError, "lr must be a non-negative finite number, got -1"),
    (lambda: optim.SGD(Linear(2, 2), nesterov=True), ValueError, "nesterov needs a positive momentum"),
    (lambda: optim.Adam(Linear(2, 2), betas=(0.9, 1.0)), ValueError, r"betas must be two numbers in \[0, 1\)"),
    (lambda: optim.StepLR(optim.SGD(Linear(2, 2)), step_size=0), ValueError, "step_size must be a positive integer"),
    (lambda: optim.CosineAnnealingLR(optim.SGD(Linear(2, 2)), T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda: optim.StepLR("sgd", 1), TypeError, "optimizer must be an Optimizer"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3}),
])
def test_float32_updates_one_and_two_threads(name, kwargs, monkeypatch):
    # the compiled one-pass updates: float32 stays float32, against the same rule in float64,
    # the same bits on 1 and 2 threads; a non-contiguous gradient is accepted
    import convcore
    monkeypatch.setattr(optim, "_GRAIN", 1)
    rng = np.random.default_rng(3)
    init = rng.standard_normal((5, 7)).astype(np.float32)
    grads = [rng.standard_normal((7, 5)).astype(np.float32).T for _ in range(3)]
    results = []
    try:
        for threads in (1, 2, None):
            convcore.set_num_threads(threads)
            p = Parameter(init.astype(np.float64) if threads is None else init.copy())
            opt = getattr(optim, name)([p], **kwargs)
            for g in grads:
                p.grad = g.astype(p.data.dtype)
                opt.step()
            results.append(p.data)
    finally:
        convcore.set_num_threads(None)
    assert results[0].dtype == np.float32
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], results[2], rtol=1e-5, atol=1e-6)


def _all_at_once_on_one_and_two_threads(make, sizes, dtypes, late, seed):
    """(initial arrays, gradients of 3 steps, [parameters after them on 1 thread, on 2]):
    parameters of `sizes` and `dtypes` in one optimizer `make(params)`, parameter `late` without
    a gradient at the first step."""
    import convcore
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(n).astype(d) for n, d in zip(sizes, dtypes)]
    grads = [[rng.standard_normal(n).astype(d) for n, d in zip(sizes, dtypes)] for _ in range(3)]
    results = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            params = [Parameter(a.copy()) for a in init]
            opt = make(params)
            for step, gs in enumerate(grads):
                for i, (p, g) in enumerate(zip(params, gs)):
                    p.grad = None if (i == late and step == 0) else g.copy()
                opt.step()
            results.append([p.data for p in params])
    finally:
        convcore.set_num_threads(None)
    return init, grads, results


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9, "weight_decay": 1e-2},
                                    {"momentum": 0.9, "nesterov": True}, {}])
def test_sgd_of_all_parameters_at_once_has_the_bits_of_one_by_one(kwargs, monkeypatch):
    # sizes around the kernel's block, an empty parameter, float32 and float64 in one optimizer,
    # a parameter that joins at the second step (its first momentum step then) and one listed
    # twice (updated once): against the single-array kernel, parameter by parameter, on 1 and 2
    # threads
    from convcore._kernels import optim as _optim
    monkeypatch.setattr(optim, "_GRAIN", 1)
    sizes = [0, 1, 32767, 32768, 32769, 70000, 5]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32, np.float32, np.float64]

    def make(params):
        opt = optim.SGD(params + [params[2]], lr=0.1, **kwargs)
        assert len(opt.params) == len(params)
        return opt
    init, grads, results = _all_at_once_on_one_and_two_threads(make, sizes, dtypes, 3, 5)
    momentum = kwargs.get("momentum", 0.0)
    for i, a in enumerate(init):  # the reference: the per-array kernel
        data, buf = a.copy(), np.empty_like(a)
        for step, gs in enumerate(grads):
            if i == 3 and step == 0:
                continue
            _optim.sgd(data, gs[i], buf, 0.1, momentum, 0.0, kwargs.get("weight_decay", 0.0),
                       kwargs.get("nesterov", False), step == (1 if i == 3 else 0), 1)
        for one in results:
            assert one[i].dtype == a.dtype
            np.testing.assert_array_equal(one[i], data)


def test_momentum_buffer_is_not_the_gradient_array():
    # the gradient array is the caller's (accumulated in place by the layers): the momentum buffer
    # must be a copy of it, not an alias that later steps would scale or the caller overwrite
    p = param([0.0, 0.0], [1.0, 2.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    opt.step()
    p.grad[:] = 0.0
    opt.step()  # buf = 0.5 * (1, 2) + 0
    np.testing.assert_allclose(p.data, [-1.5, -3.0])
    assert opt.step_count == 2
    q = Parameter(np.zeros(2, np.float32))
    q.grad = np.array([1.0, 2.0])  # a float64 gradient for a float32 parameter
    opt32 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt32.step()  # the buffer takes the parameter's dtype
    assert q.data.dtype == np.float32 and opt32.state[0]["momentum"].dtype == np.float32


def test_step_lr_and_cosine_by_hand():
    opt = optim.SGD(Linear(2, 2), lr=0.8)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    assert [sched.step() for _ in range(7)] == [0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    assert opt.lr == 0.2 and sched.last_epoch == 7
    opt = optim.SGD(Linear(2, 2), lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=2, eta_min=0.2)
    assert [sched.step() for _ in range(2)] == pytest.approx([0.6, 0.2])


def test_clip_grad_norm_edges():
    a = param([0.0], [3.0])
    b = Parameter(np.zeros(1))  # no gradient: left out
    assert optim.clip_grad_norm([b], 1.0) == 0.0
    assert optim.clip_grad_norm([a, b], 4.0) == 3.0 and a.grad[0] == 3.0  # below the limit: kept
    assert optim.clip_grad_norm([a], 1.0) == 3.0
    assert a.grad[0] == pytest.approx(1.0 / (3.0 + 1e-6) * 3.0, rel=1e-12)  # max / (norm + 1e-6)
    c = param([0.0, 0.0], [3.0, 4.0])
    assert optim.clip_grad_norm([c], 100.0, norm_type=1) == 7.0
    assert optim.clip_grad_norm([c], 100.0, norm_type=0.5) == pytest.approx((3 ** 0.5 + 2) ** 2)
    # float32 gradients are summed in float64: 1e5 squares of 1e3 overflow no float32 sum
    d = Parameter(np.zeros(100_000, np.float32))
    d.grad = np.full(100_000, 1e3, np.float32)
    assert optim.clip_grad_norm([d], 1e9) == pytest.approx(1e3 * np.sqrt(1e5), rel=1e-12)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="norm_type must be positive"):
            optim.clip_grad_norm([c], 1.0, norm_type=bad)


@pytest.mark.parametrize("name, kwargs", [("Adam", {"weight_decay": 0.1}), ("AdamW", {})])
def test_adam_of_all_parameters_at_once_has_the_bits_of_one_by_one(name, kwargs, monkeypatch):
    # as for SGD: block-edge sizes, two dtypes, a parameter that joins late (its own step count
    # and bias correction), on 1 and 2 threads, against the per-array kernel
    from convcore._kernels import optim as _optim
    monkeypatch.setattr(optim, "_GRAIN", 1)
    sizes, dtypes = [1, 32768, 32769, 70000, 3], [np.float32, np.float64, np.float32] * 2
    init, grads, results = _all_at_once_on_one_and_two_threads(
        lambda params: getattr(optim, name)(params, lr=0.01, **kwargs), sizes, dtypes, 2, 6)
    wd = kwargs.get("weight_decay", 0.01 if name == "AdamW" else 0.0)
    for i, a in enumerate(init):
        data, m, v, t = a.copy(), np.zeros_like(a), np.zeros_like(a), 0
        for step, gs in enumerate(grads):
            if i == 2 and step == 0:
                continue
            t += 1
            _optim.adam(data, gs[i], m, v, 0.01, 0.9, 0.999, 1e-8, wd, t, name == "AdamW", 1)
        for one in results:
            np.testing.assert_array_equal(one[i], data)


def test_all_at_once_kernels_refuse_lists_that_disagree():
    from convcore._kernels import optim as _optim
    a, b = np.zeros(3), np.zeros(4)
    with pytest.raises(ValueError, match="sgd_all: one first flag per parameter"):
        _optim.sgd_all([a], [a], [a], np.zeros(2, np.uint8), 0.1, 0.9, 0, 0, False, 1)
    with pytest.raises(ValueError, match="sgd_all: array sizes do not agree"):
        _optim.sgd_all([a], [b], [a], np.zeros(1, np.uint8), 0.1, 0.9, 0, 0, False, 1)
    with pytest.raises(ValueError, match="sgd_all: the lists of arrays differ in length"):
        _optim.sgd_all([a, a], [a], [a, a], np.zeros(2, np.uint8), 0.1, 0.9, 0, 0, False, 1)
    with pytest.raises(ValueError, match="adam_all: one step count per parameter"):
        _optim.adam_all([a], [a], [a], [a], np.ones(2, np.intp), 0.1, 0.9, 0.99, 1e-8, 0, False, 1)
    with pytest.raises(ValueError, match="adam_all: step counts start at 1"):
        _optim.adam_all([a], [a], [a], [a], np.zeros(1, np.intp), 0.1, 0.9, 0.99, 1e-8, 0, False, 1)
    with pytest.raises(ValueError, match="adam_all: array sizes do not agree"):
        _optim.adam_all([a], [a], [b], [a], np.ones(1, np.intp), 0.1, 0.9, 0.99, 1e-8, 0, False, 1)

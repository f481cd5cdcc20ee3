"""The model zoo: every network builds with torchvision's parameter count, runs a forward and a
backward pass on a small input, freezes, rebuilds from its config, and loads weight files (with
names and shapes checked); LeNet-5 and ResNet blocks against numerical gradients.

With torch installed, AlexNet, VGG-11 and ResNet-18 against PyTorch: the reference networks (plain
torch.nn in torchvision's layout, so torchvision itself is not needed; defined once in
benchmarks/bench_models.py) get random weights and random BatchNorm statistics and move into
convcore through the weight reader; eval-mode outputs agree to 1e-4 (relative to the largest
output) and one training step's gradients agree. The networks are built once per module (the
big ones hold over 100 million parameters)."""
import importlib.util
import sys
import os
from pathlib import Path

import numpy as np
import pytest

from convcore import models, nn
from convcore.models import load_weights, save_weights

@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tiny convolutions called thousands of times run fastest on one thread (no team start-up)."""
    from convcore import _threads
    monkeypatch.setattr(_threads, "_setting", 1)


DATA = os.path.join(os.path.dirname(__file__), "data")
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_models.py"

# torchvision's parameter counts for 1000 classes, and the input features of the last layer
# (to get the count for 10 classes: the head has (features + 1) * classes parameters).
TORCHVISION = {"alexnet": (61_100_840, 4096), "vgg11": (132_863_336, 4096),
               "vgg16": (138_357_544, 4096), "resnet18": (11_689_512, 512),
               "resnet34": (21_797_672, 512), "googlenet": (6_624_904, 1024)}

# name -> (input channels, image size) of the small input each network runs on here
# (batch 1 where there is no batch normalisation)
SMALL = {"lenet5": (1, 32, 2), "alexnet": (3, 64, 1), "vgg11": (3, 32, 1), "vgg16": (3, 32, 1),
         "resnet18": (3, 16, 2), "resnet34": (3, 16, 2), "googlenet": (3, 32, 2),
         "xception": (2, 16, 2)}


@pytest.fixture(scope="module")
def zoo():
    nn.init.manual_seed(0)
    return {name: getattr(models, name)(num_classes=10, in_channels=SMALL[name][0])
            for name in SMALL}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_parameter_counts_equal_torchvision(zoo, name):
    count, features = TORCHVISION[name]
    assert zoo[name].num_parameters() == count - 990 * (features + 1)


def test_small_model_parameter_counts(zoo):
    assert zoo["lenet5"].num_parameters() == 61_706
    # counted from the architecture: stem, entry/middle/exit blocks of separable convolutions
    # (depthwise 3x3 + pointwise, no bias) with batch norms and 1x1 skips, head, classifier
    def block(c_in, c_out, reps, stride):
        convs = sum(c * 9 + c * c_out + 2 * c_out for c in [c_in] + [c_out] * (reps - 1))
        skip = c_in * c_out + 2 * c_out if stride != 1 or c_in != c_out else 0
        return convs + skip
    stem = 2 * 32 * 9 + 2 * 32 + 32 * 64 * 9 + 2 * 64
    blocks = (block(64, 128, 2, 2) + block(128, 256, 2, 2) + block(256, 256, 2, 2)
              + 4 * block(256, 256, 3, 1) + block(256, 512, 2, 2))
    head = 512 * 9 + 512 * 768 + 2 * 768 + 768 * 10 + 10
    assert zoo["xception"].num_parameters() == stem + blocks + head


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_backward_on_a_small_input(zoo, name):
    model = zoo[name].train()
    channels, size, batch = SMALL[name]
    x = np.random.default_rng(0).standard_normal((batch, channels, size, size)).astype(np.float32)
    model.zero_grad()
    y = model(x)
    assert y.shape == (batch, 10) and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert model.output_shape(x.shape) == (batch, 10)
    gx = model.backward(np.ones_like(y))
    assert gx.shape == x.shape and np.all(np.isfinite(gx))
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, pname
    model.zero_grad()
    model.eval()


def test_frozen_backbone_keeps_no_gradients(zoo):
    model = zoo["resnet18"].train()
    model.trainable = False
    model.fc.trainable = True
    x = np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    model.zero_grad()
    model.backward(np.ones_like(model(x)))
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads["fc.weight"] is not None and grads["fc.bias"] is not None
    assert all(g is None for n, g in grads.items() if not n.startswith("fc."))
    assert model.num_parameters(trainable_only=True) == 512 * 10 + 10
    model.trainable = True
    model.zero_grad()


def test_replaced_head_and_layers_take_part():
    nn.init.manual_seed(7)
    model = models.resnet18(num_classes=10)
    model.trainable = False
    model.fc = nn.Linear(512, 3)
    x = np.random.default_rng(8).standard_normal((2, 3, 16, 16)).astype(np.float32)
    assert model.train().features(x).min() >= 0  # the last block ends with a ReLU ...
    model.layer4[1].relu2 = nn.Identity()
    assert model.features(x).min() < 0           # ... until it is replaced
    y = model(x)
    assert y.shape == (2, 3)
    model.backward(np.ones_like(y))
    assert [n for n, p in model.named_parameters() if p.grad is not None] == ["fc.weight", "fc.bias"]
    net = models.googlenet(num_classes=10)
    net.fc = nn.Linear(1024, 4)
    net.inception5b.branch1 = models.inception.BasicConv2d(832, 384, 1)
    assert net.eval()(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 4)


def test_sub_layers_reached_by_name(zoo):
    r = zoo["resnet18"]
    assert isinstance(r.get_submodule("layer3.0.downsample.0"), nn.PointConv2d)
    assert r.get_submodule("layer1.1.conv2").weight.shape == (64, 64, 3, 3)
    assert isinstance(zoo["googlenet"].get_submodule("inception4a.branch2.1.conv"), nn.Conv2d)
    assert isinstance(zoo["xception"].get_submodule("blocks.0.rep.1"), nn.SeparableConv2d)
    keys = list(r.state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    assert "layer2.0.downsample.1.running_var" in keys and keys[-2:] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "xception"])
def test_config_rebuilds_the_architecture(zoo, name):
    model = zoo[name]
    clone = nn.deserialize(nn.serialize(model))
    assert type(clone) is type(model)
    assert [(k, v.shape) for k, v in clone.state_dict().items()] == \
        [(k, v.shape) for k, v in model.state_dict().items()]


def check_numerically(f, a, grad, count=12, eps=1e-6):
    """Central differences of f at `count` random entries of `a` against `grad` there."""
    rng = np.random.default_rng(a.size)
    flat = a.reshape(-1)
    for i in rng.choice(a.size, size=min(count, a.size), replace=False):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        np.testing.assert_allclose(grad.reshape(-1)[i], (hi - lo) / (2 * eps), rtol=1e-5,
                                   atol=1e-7)


@pytest.mark.parametrize("stride, c_out", [(1, 3), (2, 4)])
def test_basic_block_gradients(stride, c_out):
    nn.init.manual_seed(1)
    block = models.BasicBlock(3, c_out, stride, dtype=np.float64).train()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 4))
    r = rng.standard_normal(block(x).shape)

    def loss():
        return float(np.sum(block.forward(x) * r))

    block.forward(x)
    gx = block.backward(r)
    check_numerically(loss, x, gx)
    for name, p in block.named_parameters():
        check_numerically(loss, p.data, p.grad)


def test_lenet_gradient_in_float64():
    nn.init.manual_seed(3)
    model = models.lenet5(num_classes=3, dtype=np.float64)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 1, 32, 32))
    r = rng.standard_normal((2, 3))

    def loss():
        return float(np.sum(model.forward(x) * r))

    model.forward(x)
    model.backward(r)
    for layer in (model.features[0], model.features[3], model.classifier[2]):
        check_numerically(loss, layer.weight.data, layer.weight.grad)
        check_numerically(loss, layer.bias.data, layer.bias.grad)


def test_save_and_load_weights_round_trip(zoo, tmp_path):
    model = zoo["resnet18"]
    model.get_submodule("layer1.0.bn1").running_mean[:] = 0.5  # buffers travel too
    path = save_weights(model, tmp_path / "r18.npz")
    nn.init.manual_seed(5)
    other = models.resnet18(num_classes=10)
    load_weights(other, path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert other.get_submodule("layer1.0.bn1").running_mean[0] == 0.5
    x = np.random.default_rng(6).standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(model.eval()(x), other.eval()(x))


def test_load_weights_reports_missing_unexpected_and_mis_shaped(zoo, tmp_path):
    model = zoo["lenet5"]
    state = model.state_dict()
    state["features.0.weight"] = np.zeros((6, 1, 3, 3), np.float32)  # wrong shape
    del state["classifier.4.bias"]
    state["head.weight"] = np.zeros(3, np.float32)
    np.savez(tmp_path / "bad.npz", **state)
    with pytest.raises(ValueError, match=r"missing keys: classifier\.4\.bias.*unexpected keys: "
                                         r"head\.weight.*mis-shaped keys: features\.0\.weight: "
                                         r"expected \(6, 1, 5, 5\), got \(6, 1, 3, 3\)"):
        load_weights(models.lenet5(), tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="mis-shaped keys: features.0.weight"):
        load_weights(models.lenet5(), tmp_path / "bad.npz", strict=False)


def test_load_weights_refuses_malicious_and_truncated_files():
    with pytest.raises(ValueError, match="refusing to load"):
        load_weights(models.lenet5(), os.path.join(DATA, "malicious.pt"))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_weights(models.lenet5(), os.path.join(DATA, "truncated.pt"))


def test_load_committed_torch_file_into_a_matching_model():
    """tests/data/tiny_state_dict.pt holds Conv2d(1, 2, 3), BatchNorm2d(2), Flatten, Linear(8, 3)
    (plus three extra tensors, ignored with strict=False)."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    missing, unexpected = model.load_state_dict(
        models.read_state_dict(os.path.join(DATA, "tiny_state_dict.pt")), strict=False)
    assert missing == [] and sorted(unexpected) == ["extra.double", "extra.half",
                                                     "extra.transposed"]
    assert int(model[1].num_batches_tracked) == 1
    assert model[1].running_var.dtype == np.float32


def test_argument_errors():
    with pytest.raises(ValueError, match="num_classes must be positive, got 0"):
        models.resnet18(num_classes=0)
    with pytest.raises(TypeError, match="in_channels must be an integer"):
        models.alexnet(in_channels=2.0)
    with pytest.raises(ValueError, match=r"depth must be one of \[11, 16\], got 13"):
        models.VGG(13)
    with pytest.raises(ValueError, match=r"depth must be one of \[18, 34\], got 50"):
        models.ResNet(50)
    with pytest.raises(ValueError, match=r"LeNet5 takes \(N, C, 32, 32\) images"):
        models.lenet5()(np.zeros((1, 1, 28, 28), np.float32))


def assert_close(ours, theirs, rel, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    err = np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    assert err <= rel, f"{what}: relative error {err:.2e} > {rel}"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH.parent))  # the script imports its sibling _timing.py
    spec = importlib.util.spec_from_file_location("bench_models", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = {"alexnet": (64, 2), "vgg11": (32, 2), "resnet18": (32, 4)}  # image size, batch


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_outputs_and_training_gradients_match_torch(zoo, bench, name, tmp_path):
    torch = pytest.importorskip("torch")
    size, batch = CASES[name]
    torch.manual_seed(0)
    ref = bench.torch_reference(name, 10)
    bench.randomize_batchnorm(ref)
    ours = zoo[name]
    for m in ours.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0  # the same masks on both sides: none
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert ours.num_parameters() == sum(p.numel() for p in ref.parameters())
    if name == "resnet18":  # through a genuine torch.save file
        torch.save(ref.state_dict(), tmp_path / "weights.pt")
        load_weights(ours, tmp_path / "weights.pt")
    else:
        ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})

    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    ref.eval()
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    assert_close(ours.eval()(x), expected, 1e-4, "eval output")

    ref.train()
    ours.train()
    xt = torch.from_numpy(x).requires_grad_()
    yt = ref(xt)
    y = ours(x)
    assert_close(y, yt, 1e-4, "train output")
    r = rng.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.from_numpy(r))
    ours.zero_grad()
    gx = ours.backward(r)
    assert_close(gx, xt.grad, 1e-3, "input gradient")
    torch_params = dict(ref.named_parameters())
    for pname, p in ours.named_parameters():
        assert_close(p.grad, torch_params[pname].grad, 1e-3, pname)
    state = ref.state_dict()
    for bname, b in ours.named_buffers():
        assert_close(np.asarray(b, dtype=np.float64), state[bname].double(), 1e-5, bname)
    ours.zero_grad()
    ours.eval()


@pytest.mark.parametrize("name", ["googlenet", "xception"])
def test_googlenet_and_xception_eval_outputs_match_torch(zoo, bench, name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = bench.torch_reference(name, 10, SMALL[name][0])
    bench.randomize_batchnorm(ref)
    model = zoo[name]
    assert list(model.state_dict()) == list(ref.state_dict())
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    channels, size, batch = SMALL[name]
    x = np.random.default_rng(3).standard_normal((batch, channels, size, size)).astype(np.float32)
    with torch.no_grad():
        expected = ref.eval()(torch.from_numpy(x))
    assert_close(model.eval()(x), expected, 1e-4, "eval output")


def test_benchmark_helpers(bench):
    pytest.importorskip("torch")
    rows = bench.run([("lenet5", 2, 1, 32)], repeat=1)
    assert rows[0][0] == "lenet5 2x1x32x32" and rows[0][3] < 1e-4
    text = bench.table(rows, 1, 1)
    assert "target <= 1.0" in text and "lenet5 2x1x32x32" in text

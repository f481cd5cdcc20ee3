"""AlexNet, VGG-11 and ResNet-18 against PyTorch: reference networks are written here with plain
torch.nn in torchvision's layout (torchvision itself is not needed), given random weights and
random BatchNorm statistics, and moved into convcore through the weight reader; eval-mode outputs
agree to 1e-4 (relative to the largest output) and one training step's gradients agree."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
tnn = torch.nn

from convcore import models  # noqa: E402
from convcore.models import load_weights  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    from convcore import _threads
    monkeypatch.setattr(_threads, "_setting", 1)


class TorchFeatureClassifier(tnn.Module):
    def __init__(self, features, avgpool, classifier):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def torch_alexnet(num_classes):
    features = tnn.Sequential(
        tnn.Conv2d(3, 64, 11, 4, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1),
        tnn.ReLU(), tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2))
    classifier = tnn.Sequential(
        tnn.Dropout(0.0), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(0.0),
        tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Linear(4096, num_classes))
    return TorchFeatureClassifier(features, tnn.AdaptiveAvgPool2d((6, 6)), classifier)


def torch_vgg11(num_classes):
    layers, c = [], 3
    for v in models.vgg.CONFIGS[11]:
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
        else:
            layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU()]
            c = v
    classifier = tnn.Sequential(
        tnn.Linear(25088, 4096), tnn.ReLU(), tnn.Dropout(0.0), tnn.Linear(4096, 4096), tnn.ReLU(),
        tnn.Dropout(0.0), tnn.Linear(4096, num_classes))
    return TorchFeatureClassifier(tnn.Sequential(*layers), tnn.AdaptiveAvgPool2d((7, 7)),
                                  classifier)


class TorchBasicBlock(tnn.Module):
    def __init__(self, c_in, c, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(c)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(c)
        self.downsample = None
        if stride != 1 or c_in != c:
            self.downsample = tnn.Sequential(tnn.Conv2d(c_in, c, 1, stride, bias=False),
                                             tnn.BatchNorm2d(c))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet18(tnn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, c in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(TorchBasicBlock(c_in, c, stride),
                                                          TorchBasicBlock(c, c, 1)))
            c_in = c
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def randomize_batchnorm(net, gen):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def assert_close(ours, theirs, rel, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    err = np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    assert err <= rel, f"{what}: relative error {err:.2e} > {rel}"


CASES = {
    "alexnet": (torch_alexnet, lambda: models.alexnet(10, dropout=0.0), 64, 2),
    "vgg11": (torch_vgg11, lambda: models.vgg11(10, dropout=0.0), 32, 2),
    "resnet18": (TorchResNet18, lambda: models.resnet18(10), 32, 4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_outputs_and_training_gradients_match_torch(name, tmp_path):
    make_torch, make_ours, size, batch = CASES[name]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    ref = make_torch(10)
    randomize_batchnorm(ref, gen)
    ours = make_ours()
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

"""AlexNet, VGG-11 and ResNet-18 against PyTorch: the reference networks (plain torch.nn in
torchvision's layout, so torchvision itself is not needed; defined once in
benchmarks/bench_models.py) get random weights and random BatchNorm statistics and move into
convcore through the weight reader; eval-mode outputs agree to 1e-4 (relative to the largest
output) and one training step's gradients agree. Also a smoke test of the benchmark's helpers."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from convcore import models  # noqa: E402
from convcore.models import load_weights  # noqa: E402


PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_models.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_models", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    from convcore import _threads
    monkeypatch.setattr(_threads, "_setting", 1)


def assert_close(ours, theirs, rel, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    err = np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    assert err <= rel, f"{what}: relative error {err:.2e} > {rel}"


CASES = {  # convcore network, image size, batch
    "alexnet": (lambda: models.alexnet(10, dropout=0.0), 64, 2),
    "vgg11": (lambda: models.vgg11(10, dropout=0.0), 32, 2),
    "resnet18": (lambda: models.resnet18(10), 32, 4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_outputs_and_training_gradients_match_torch(bench, name, tmp_path):
    make_ours, size, batch = CASES[name]
    torch.manual_seed(0)
    ref = bench.torch_reference(name, 10)
    bench.randomize_batchnorm(ref)
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


def test_benchmark_helpers_agree_with_torch(bench):
    rows = bench.run([("lenet5", 2, 1, 32), ("resnet34", 2, 3, 32), ("xception", 2, 3, 16)],
                     repeat=1)
    assert [r[0] for r in rows] == ["lenet5 2x1x32x32", "resnet34 2x3x32x32", "xception 2x3x16x16"]
    assert rows[0][3] < 1e-4 and rows[1][3] < 1e-4 and rows[2][2] is None
    text = bench.table(rows, 1, 1)
    assert "target <= 1.5" in text and "resnet34 2x3x32x32" in text

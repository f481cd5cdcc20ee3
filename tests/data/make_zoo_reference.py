"""Make tests/data/zoo_reference.npz, the PyTorch outputs and gradients of every network of the model
zoo that tests/test_zoo_reference.py compares convcore's networks with, without torch (run from the
repository root; needs torch):

    python tests/data/make_zoo_reference.py

Each network is built in plain ``torch.nn`` with torchvision's layout and parameter names (the twins
in benchmarks/bench_models.py; LeNet-5's below), for 3 classes, in evaluation mode, in float64: a
ReLU or max-pool input that float32 rounding could push across its kink would make a float32
reference disagree with any other correct implementation. The values are stored in float32. Its weights are
not random draws of either library: every entry of the state dict is filled by :func:`fill` from its
name alone, so the test fills convcore's network the same way and needs no weight file, and an entry
added later (say GoogLeNet's auxiliary heads, unused in evaluation mode) changes nothing else.
Rerun this script when a network's layers or state-dict names change.

For each network the file holds, under ``<name>/``: the input ``x`` (a tiny batch), the output ``y``,
an upstream gradient ``r``, the input gradient ``gx`` of ``sum(y * r)`` and the gradients of a few
small parameters (``grad/<parameter name>``).
"""
import importlib.util
import os
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PATH = os.path.join(HERE, "zoo_reference.npz")
NUM_CLASSES = 3
# name -> (input channels, image size, batch): the smallest input each network takes
INPUTS = {"lenet5": (1, 32, 2), "alexnet": (3, 64, 1), "vgg11": (3, 32, 1), "vgg16": (3, 32, 1),
          "resnet18": (3, 16, 2), "resnet34": (3, 16, 2), "googlenet": (3, 32, 2),
          "xception": (2, 16, 2)}


def fill(name, shape, dtype):
    """The value of the state-dict entry `name`, from its name alone: He-scaled normal weights,
    BatchNorm scales, shifts and running statistics of the sizes training would give them."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    last = name.rsplit(".", 1)[-1]
    if last == "num_batches_tracked":
        return np.array(100, dtype=dtype)
    # drawn in float32 (the zoo's dtype; some layers hold 100 million weights), in place
    if last in ("running_mean", "bias") or last in ("running_var", "weight") and len(shape) == 1:
        low = -0.2 if last in ("running_mean", "bias") else 0.5
        value = rng.random(shape, dtype=np.float32)
        value *= np.float32(0.4 if low < 0 else 1.0)
        value += np.float32(low)
    else:
        value = rng.standard_normal(shape, dtype=np.float32)
        value *= np.float32(np.sqrt(2.0 / np.prod(shape[1:])))
    return value.astype(dtype, copy=False)


def filled(state):
    """Every entry of a state dict (name -> array) filled by :func:`fill`."""
    return {k: fill(k, np.shape(v), np.asarray(v).dtype) for k, v in state.items()}


def _torch_lenet5(tnn, torch, num_classes, in_channels):
    class LeNet5(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(in_channels, 6, 5), tnn.Tanh(), tnn.AvgPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2))
            self.classifier = tnn.Sequential(
                tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(),
                tnn.Linear(84, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    return LeNet5()


def _small_parameters(names_and_sizes, limit=5_000):
    """The first, a middle one and the last two of the parameters with at most `limit` values."""
    small = [n for n, size in names_and_sizes if size <= limit]
    return sorted({small[0], small[len(small) // 2], small[-2], small[-1]}, key=small.index)


def main():
    import sys

    import torch

    sys.path.insert(0, ROOT)  # the twins name convcore's layer tables (models.vgg.CONFIGS, ...)
    spec = importlib.util.spec_from_file_location(
        "bench_models", os.path.join(ROOT, "benchmarks", "bench_models.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    torch.set_num_threads(1)
    out = {}
    for name, (channels, size, batch) in INPUTS.items():
        if name == "lenet5":
            net = _torch_lenet5(torch.nn, torch, NUM_CLASSES, channels)
        else:
            net = bench.torch_reference(name, NUM_CLASSES, channels)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in filled(net.state_dict()).items()})
        net.double().eval()
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
        xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
        y = net(xt)
        r = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(torch.from_numpy(r.astype(np.float64)))
        params = dict(net.named_parameters())
        out.update({f"{name}/x": x, f"{name}/y": y.detach().numpy().astype(np.float32),
                    f"{name}/r": r, f"{name}/gx": xt.grad.numpy().astype(np.float32)})
        for pname in _small_parameters([(n, p.numel()) for n, p in params.items()]):
            out[f"{name}/grad/{pname}"] = params[pname].grad.numpy().astype(np.float32)
        print(f"{name}: output {tuple(y.shape)}, |y| <= {float(y.detach().abs().max()):.3g}")
    np.savez_compressed(PATH, **out)
    print(f"wrote {PATH} ({os.path.getsize(PATH)} bytes)")


if __name__ == "__main__":
    main()

"""Inference time of the model zoo against PyTorch, each library in its own process.

Usage: python benchmarks/bench_models.py [--threads N] [--repeat R] [--calls C] [--settle S]
                                         [--only NAME ...]

Cases: ResNet-18 on a batch of 8 RGB images of 224x224 (the issue's target: within 1.5x of
PyTorch's time), and the zoo on small inputs (LeNet-5 on 32x32 digits, AlexNet on 64x64, VGG and
ResNet on 32x32, GoogLeNet and the Xception-style network on 32x32). Each network is built in
PyTorch with plain ``torch.nn`` in torchvision's layout (torchvision is not needed), given random
weights and BatchNorm statistics, and its state dict is passed (as an .npz file) to convcore's
network; the outputs are checked to agree before anything is timed. Evaluation mode, float32.
Each library runs in a worker process of its own (see _timing.py: neither loads the other, so
neither runs on the other's OpenMP settings), the two taking turns for ``--repeat`` rounds of
``--calls`` calls, each turn after a pause of ``--settle`` seconds (so that neither library's
threads still spin from its last turn), and the figure is the median of all the calls (the first
of each turn runs cold, for both libraries alike). The previous version timed one call a turn
with no pause: LeNet-5's 1.5-1.7 ms took 4.1 ms in one of six runs. The ratio is convcore's time
over PyTorch's (lower is better).
"""
import argparse
import ast
import json
import os
import tempfile

import numpy as np

from _timing import (Workers, add_calls_argument, add_settle_argument, add_worker_arguments,
                     header, serve)

CASES = [  # name, batch, in_channels, image size
    ("resnet18", 8, 3, 224), ("lenet5", 64, 1, 32), ("alexnet", 16, 3, 64), ("vgg11", 16, 3, 32),
    ("vgg16", 16, 3, 32), ("resnet18", 32, 3, 32), ("resnet34", 32, 3, 32),
    ("googlenet", 32, 3, 32), ("xception", 32, 3, 32),
]


def zoo_layout():
    """The layer tables of convcore's zoo that the torch twins follow (plain Python literals)."""
    from convcore import models

    return {"vgg": models.vgg.CONFIGS, "resnet": models.resnet.LAYERS,
            "inception": models.inception.BLOCKS}


def torch_reference(name, num_classes=10, in_channels=3, layout=None):
    """The network `name` in plain torch.nn, torchvision's layout and parameter names (for the
    Xception-style network, convcore's layout). `layout`: zoo_layout(), passed to a worker that
    must not import convcore. Also used by tests/test_models.py."""
    layout = zoo_layout() if layout is None else layout
    import torch
    tnn = torch.nn

    class FeatureClassifier(tnn.Module):
        def __init__(self, features, avgpool, classifier):
            super().__init__()
            self.features, self.avgpool, self.classifier = features, avgpool, classifier

        def forward(self, x):
            x = self.features(x)
            if self.avgpool is not None:
                x = self.avgpool(x)
            return self.classifier(torch.flatten(x, 1))

    class BasicBlock(tnn.Module):
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

    class ResNet(tnn.Module):
        def __init__(self, blocks):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU()
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            c_in = 64
            for i, (n, c) in enumerate(zip(blocks, (64, 128, 256, 512))):
                stage = [BasicBlock(c_in, c, 1 if i == 0 else 2)]
                stage += [BasicBlock(c, c, 1) for _ in range(n - 1)]
                setattr(self, f"layer{i + 1}", tnn.Sequential(*stage))
                c_in = c
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    if name == "lenet5":
        return FeatureClassifier(
            tnn.Sequential(tnn.Conv2d(in_channels, 6, 5), tnn.Tanh(), tnn.AvgPool2d(2),
                           tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2)), None,
            tnn.Sequential(tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(),
                           tnn.Linear(84, num_classes)))
    if name == "alexnet":
        features = tnn.Sequential(
            tnn.Conv2d(in_channels, 64, 11, 4, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1),
            tnn.ReLU(), tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2))
        classifier = tnn.Sequential(
            tnn.Dropout(0.0), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(0.0),
            tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Linear(4096, num_classes))
        return FeatureClassifier(features, tnn.AdaptiveAvgPool2d((6, 6)), classifier)
    if name in ("vgg11", "vgg16"):
        layers, c = [], in_channels
        for v in layout["vgg"][int(name[3:])]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU()]
                c = v
        classifier = tnn.Sequential(
            tnn.Linear(25088, 4096), tnn.ReLU(), tnn.Dropout(0.0), tnn.Linear(4096, 4096),
            tnn.ReLU(), tnn.Dropout(0.0), tnn.Linear(4096, num_classes))
        return FeatureClassifier(tnn.Sequential(*layers), tnn.AdaptiveAvgPool2d((7, 7)),
                                 classifier)
    if name in ("resnet18", "resnet34"):
        return ResNet(layout["resnet"][int(name[6:])])
    if name == "googlenet":
        return _torch_googlenet(tnn, torch, num_classes, in_channels, layout["inception"])
    if name == "xception":
        return _torch_xception(tnn, torch, num_classes, in_channels)
    raise ValueError(f"no torch reference for {name!r}")


def _torch_googlenet(tnn, torch, num_classes, in_channels, blocks):
    """torchvision's GoogLeNet without auxiliary heads or input transform."""

    class BasicConv2d(tnn.Module):
        def __init__(self, c_in, c_out, k, stride=1, padding=0):
            super().__init__()
            self.conv = tnn.Conv2d(c_in, c_out, k, stride, padding, bias=False)
            self.bn = tnn.BatchNorm2d(c_out, eps=1e-3)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)))

    class Inception(tnn.Module):
        def __init__(self, c_in, ch1, ch3r, ch3, ch5r, ch5, proj):
            super().__init__()
            self.branch1 = BasicConv2d(c_in, ch1, 1)
            self.branch2 = tnn.Sequential(BasicConv2d(c_in, ch3r, 1), BasicConv2d(ch3r, ch3, 3, 1, 1))
            self.branch3 = tnn.Sequential(BasicConv2d(c_in, ch5r, 1), BasicConv2d(ch5r, ch5, 3, 1, 1))
            self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                          BasicConv2d(c_in, proj, 1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

    class GoogLeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = BasicConv2d(in_channels, 64, 7, 2, 3)
            self.maxpool1 = tnn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = BasicConv2d(64, 64, 1)
            self.conv3 = BasicConv2d(64, 192, 3, 1, 1)
            self.maxpool2 = tnn.MaxPool2d(3, 2, ceil_mode=True)
            for block, args in blocks.items():
                if args is None:
                    k = 3 if block == "maxpool3" else 2
                    setattr(self, block, tnn.MaxPool2d(k, 2, ceil_mode=True))
                else:
                    setattr(self, block, Inception(*args))
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.dropout = tnn.Dropout(0.0)
            self.fc = tnn.Linear(1024, num_classes)

        def forward(self, x):
            for name, layer in self.named_children():
                if name == "fc":
                    return layer(torch.flatten(x, 1))
                x = layer(x)

    return GoogLeNet()


def _torch_xception(tnn, torch, num_classes, in_channels, width=256, middle=4):
    """The twin of convcore.models.Xception (same layers and names)."""

    class SeparableConv2d(tnn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.depthwise = tnn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in, bias=False)
            self.pointwise = tnn.Conv2d(c_in, c_out, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class Block(tnn.Module):
        def __init__(self, c_in, c_out, reps, stride):
            super().__init__()
            layers, c = [], c_in
            for _ in range(reps):
                layers += [tnn.ReLU(), SeparableConv2d(c, c_out), tnn.BatchNorm2d(c_out)]
                c = c_out
            if stride != 1:
                layers.append(tnn.MaxPool2d(3, stride, 1))
            self.rep = tnn.Sequential(*layers)
            self.skip = None
            if stride != 1 or c_in != c_out:
                self.skip = tnn.Sequential(tnn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                           tnn.BatchNorm2d(c_out))

        def forward(self, x):
            return self.rep(x) + (x if self.skip is None else self.skip(x))

    class Xception(tnn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.stem = tnn.Sequential(
                tnn.Conv2d(in_channels, 32, 3, 2, 1, bias=False), tnn.BatchNorm2d(32), tnn.ReLU(),
                tnn.Conv2d(32, 64, 3, 1, 1, bias=False), tnn.BatchNorm2d(64))
            blocks = [Block(64, 128, 2, 2), Block(128, 256, 2, 2), Block(256, w, 2, 2)]
            blocks += [Block(w, w, 3, 1) for _ in range(middle)]
            blocks.append(Block(w, 2 * w, 2, 2))
            self.blocks = tnn.Sequential(*blocks)
            self.head = tnn.Sequential(SeparableConv2d(2 * w, 3 * w), tnn.BatchNorm2d(3 * w),
                                       tnn.ReLU(), tnn.AdaptiveAvgPool2d((1, 1)))
            self.fc = tnn.Linear(3 * w, num_classes)

        def forward(self, x):
            return self.fc(torch.flatten(self.head(self.blocks(self.stem(x))), 1))

    return Xception()


def randomize_batchnorm(net, seed=1):
    """Random affine parameters and running statistics for every BatchNorm2d of a torch net."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.2, 0.2, generator=gen)
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)


def label(case):
    name, batch, channels, size = case
    return f"{name} {batch}x{channels}x{size}x{size}"


def build(library, threads, cases, weights):
    """{label: function} of one library's worker. The torch worker (started first) writes each
    network's weights to `weights`/<label>.npz; the convcore worker loads them, so both compute
    the same function without either loading the other's library."""
    out = {}
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
        with open(os.path.join(weights, "layout.txt")) as fh:
            layout = ast.literal_eval(fh.read())
    else:
        import convcore
        from convcore import models

        convcore.set_num_threads(threads)
    for case in cases:
        name, batch, channels, size = case
        x = np.random.default_rng(0).standard_normal((batch, channels, size, size)).astype(
            np.float32)
        path = os.path.join(weights, f"{label(case)}.npz")
        if library == "torch":
            torch.manual_seed(0)
            twin = torch_reference(name, 10, channels, layout)
            randomize_batchnorm(twin)
            np.savez(path, **{k: v.numpy() for k, v in twin.state_dict().items()})
            twin.eval()

            def peer(twin=twin, xt=torch.from_numpy(x)):
                with torch.no_grad():
                    return twin(xt).numpy()
            out[label(case)] = peer
        else:
            convcore.nn.init.manual_seed(0)
            extra = {"dropout": 0.0} if name in ("alexnet", "vgg11", "vgg16") else {}
            ours = getattr(models, name)(num_classes=10, in_channels=channels, **extra)
            if os.path.exists(path):  # PyTorch's weights (else convcore's own: no comparison)
                with np.load(path) as state:
                    ours.load_state_dict(dict(state))
            ours.eval()
            out[label(case)] = lambda ours=ours, x=x: ours(x)
    return out


def run(cases=CASES, repeat=5, use_torch=True, threads=None, settle=0.05, calls=3):
    """Time each case, each library in its own worker process (`repeat` alternating rounds of
    `calls` calls, `settle` seconds of pause before each turn); rows of (label, convcore seconds,
    torch seconds or None, max relative difference or None)."""
    threads = threads or min(2, os.cpu_count() or 1)
    libraries = ["torch", "convcore"] if use_torch else ["convcore"]
    with tempfile.TemporaryDirectory() as weights:
        with open(os.path.join(weights, "layout.txt"), "w") as fh:
            fh.write(repr(zoo_layout()))  # this parent imports convcore; the torch worker never
        args = ["--threads", str(threads), "--weights", weights, "--cases", json.dumps(cases)]
        with Workers(__file__, libraries, args) as workers:
            rows = []
            for case in cases:
                lab = label(case)
                diff = None
                if "torch" in workers.procs:
                    ours, expected = (workers.result(lib, lab) for lib in ("convcore", "torch"))
                    diff = float(np.max(np.abs(ours - expected)) / np.max(np.abs(expected)))
                t = workers.time([lab], calls, repeat, settle)[lab]
                rows.append((lab, t["convcore"], t.get("torch"), diff))
    return rows


def table(rows, threads, repeat, calls=1):
    lines = [f"model inference (eval, float32), median of {repeat} alternating rounds x {calls} "
             "calls; ratio = convcore time / torch time (target <= 1.0; lower is better)",
             header(threads),
             f"{'model, input':<28}{'convcore ms':>12}{'torch ms':>10}{'ratio':>7}{'max rel diff':>14}"]
    for lab, ours, peer, diff in rows:
        peer_s = f"{peer * 1e3:10.1f}" if peer is not None else f"{'-':>10}"
        ratio = f"{ours / peer:7.2f}" if peer is not None else f"{'-':>7}"
        diff_s = f"{diff:14.1e}" if diff is not None else f"{'-':>14}"
        lines.append(f"{lab:<28}{ours * 1e3:12.1f}{peer_s}{ratio}{diff_s}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds")
    parser.add_argument("--only", nargs="*", help="model names to run (default: all cases)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--weights", help=argparse.SUPPRESS)  # for the workers
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    add_worker_arguments(parser)
    add_settle_argument(parser)
    add_calls_argument(parser)
    args = parser.parse_args(argv)
    if args.worker:
        cases = [tuple(c) for c in json.loads(args.cases)]
        return serve(lambda lib, t: build(lib, t, cases, args.weights), args.worker, args.threads)
    cases = [c for c in CASES if not args.only or c[0] in args.only]
    print(table(run(cases, args.repeat, not args.no_torch, args.threads, args.settle,
                    args.calls), args.threads, args.repeat, args.calls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

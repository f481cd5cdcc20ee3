"""Training-step and first-layer times of convcore against PyTorch, each library in its own process.

Usage: python benchmarks/bench_train.py [--threads N] [--rounds R] [--steps S] [--only CASE ...]
                                       [--layers]

Training cases: one step (forward, loss, backward, optimizer step) of ResNet-18 and ResNet-34 on
32x32 RGB images (batch 32, SGD with momentum), LeNet-5 (batch 64, SGD with momentum), the digits
CNN of ``bench_digits.py`` (8x8, batch 32, Adam) and the MNIST-1D CNN (three Conv1d and a Linear
layer on 40 samples, batch 100, Adam), cross-entropy, float32. The first layer's input gradient is
not computed (as ``fit`` does; PyTorch skips it for an input that needs no gradient). First-layer
cases (``conv:...``): the forward of a single-channel 5x5 convolution (64x1x28x28 by 32x1x5x5,
padding 2) and of 7x7 stride-2 layers on RGB input.

Method (``_timing.Workers``, as every comparing script here): for each case the script starts
itself twice as a worker, one per library; a worker imports only its own library, sets the thread
count, builds the case with random data and weights and runs three steps. The parent then asks
the two workers for ``--steps`` timed steps in turn, ``--rounds`` times (the order alternating),
so a change of load on the (shared) machine hits both alike, and prints each library's median
step time and the ratio convcore / PyTorch (below 1: convcore is faster). The header shows the
threads, the load average and the CPU's vector features.

``--layers`` also prints, for each training case, where the step's time goes: the forward and
the backward (both gradients) of every convolution layer, summed over the layers of one shape,
per step, in each library (convcore's layer methods timed; PyTorch's ``aten::convolution`` and
``aten::convolution_backward`` under ``torch.profiler``), and the rest of the step (batch
normalisation, activations, pooling, the loss, the optimizer, Python: the median step time less
the convolutions). Medians of ``--rounds`` turns of ``--steps`` steps in each worker,
alternating as above.
"""
import json
import argparse
import os

import numpy as np
from _timing import Workers, add_settle_argument, add_worker_arguments, header, serve

TRAIN_CASES = ["resnet18", "resnet34", "lenet5", "digits", "mnist1d"]
CONV_CASES = {  # name: (input shape, weight shape, stride, padding)
    "conv:1x28x28-5x5": ((64, 1, 28, 28), (32, 1, 5, 5), 1, 2),
    "conv:3x32x32-7x7s2": ((32, 3, 32, 32), (64, 3, 7, 7), 2, 3),
    "conv:3x224x224-7x7s2": ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
}
BATCH = {"resnet18": 32, "resnet34": 32, "lenet5": 64, "digits": 32, "mnist1d": 100}
INPUT = {"resnet18": (3, 32, 32), "resnet34": (3, 32, 32), "lenet5": (1, 32, 32),
         "digits": (1, 8, 8), "mnist1d": (1, 40)}
ADAM = {"digits", "mnist1d"}


def _data(case):
    rng = np.random.default_rng(0)
    if case in CONV_CASES:
        xs, ws, _, _ = CONV_CASES[case]
        return rng.standard_normal(xs, dtype=np.float32), rng.standard_normal(ws, dtype=np.float32)
    x = rng.standard_normal((BATCH[case],) + INPUT[case], dtype=np.float32)
    return x, rng.integers(0, 10, BATCH[case])


def convcore_step(case):
    """A function running one step of `case` with convcore."""
    from convcore import losses, models, nn, optim
    x, y = _data(case)
    if case in CONV_CASES:
        _, _, stride, padding = CONV_CASES[case]
        from convcore import functional as F
        return lambda: F.conv2d(x, y, None, stride, padding)
    if case.startswith("resnet"):
        model = models.resnet18(10) if case == "resnet18" else models.resnet34(10)
    elif case == "lenet5":
        model = models.lenet5(10)
    elif case == "digits":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(
            nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(125, 10))
    opt = optim.Adam(model, lr=1e-3) if case in ADAM else optim.SGD(model, lr=0.01, momentum=0.9)
    loss = losses.CrossEntropyLoss()
    params = model.parameters()
    first = next(m for m in model.modules() if hasattr(m, "need_input_grad"))
    first.need_input_grad = False
    model.train()

    def step():
        value = loss(model.forward(x), y)
        for p in params:
            p.grad = None
        model.backward(loss.backward())
        opt.step()
        return value
    return step


def torch_step(case):
    """A function running one step of `case` with PyTorch (plain torch.nn, the same layers)."""
    import torch
    tnn = torch.nn
    x, y = (torch.from_numpy(a) for a in _data(case))
    if case in CONV_CASES:
        _, _, stride, padding = CONV_CASES[case]
        return lambda: torch.nn.functional.conv2d(x, y, None, stride, padding)

    class Block(tnn.Module):
        def __init__(self, c_in, c, stride):
            super().__init__()
            self.body = tnn.Sequential(
                tnn.Conv2d(c_in, c, 3, stride, 1, bias=False), tnn.BatchNorm2d(c), tnn.ReLU(),
                tnn.Conv2d(c, c, 3, 1, 1, bias=False), tnn.BatchNorm2d(c))
            self.short = tnn.Identity() if stride == 1 and c_in == c else tnn.Sequential(
                tnn.Conv2d(c_in, c, 1, stride, bias=False), tnn.BatchNorm2d(c))

        def forward(self, h):
            return torch.relu(self.body(h) + self.short(h))

    if case.startswith("resnet"):
        layers = [tnn.Conv2d(3, 64, 7, 2, 3, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(),
                  tnn.MaxPool2d(3, 2, 1)]
        c_in = 64
        for i, (n, c) in enumerate(zip((2, 2, 2, 2) if case == "resnet18" else (3, 4, 6, 3),
                                       (64, 128, 256, 512))):
            layers += [Block(c_in if j == 0 else c, c, 2 if i and not j else 1) for j in range(n)]
            c_in = c
        model = tnn.Sequential(*layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(512, 10))
    elif case == "lenet5":
        model = tnn.Sequential(
            tnn.Conv2d(1, 6, 5), tnn.Tanh(), tnn.AvgPool2d(2), tnn.Conv2d(6, 16, 5), tnn.Tanh(),
            tnn.AvgPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.Tanh(),
            tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10))
    elif case == "digits":
        model = tnn.Sequential(
            tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, 10))
    else:
        model = tnn.Sequential(
            tnn.Conv1d(1, 25, 5, stride=2, padding=1), tnn.ReLU(),
            tnn.Conv1d(25, 25, 3, stride=2, padding=1), tnn.ReLU(),
            tnn.Conv1d(25, 25, 3, stride=2, padding=1), tnn.ReLU(),
            tnn.Flatten(), tnn.Linear(125, 10))
    opt = (torch.optim.Adam(model.parameters(), lr=1e-3) if case in ADAM
           else torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    loss_fn = tnn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def _shape_key(x_shape, w_shape):
    return f"{tuple(x_shape)} * {tuple(w_shape)}"


def convcore_layer_times(case, steps):
    """A function running `steps` steps of a fresh `case` and returning, as JSON, the forward
    and backward seconds per step of its convolution layers by shape {"input * weight": [f, b]}."""
    import time
    step = convcore_step(case)
    model = next(c.cell_contents for c in step.__closure__
                 if hasattr(c.cell_contents, "named_modules"))
    spent = {}

    def timed(layer, method, i):
        def run(a):
            start = time.perf_counter()
            out = method(a)
            key = _shape_key(layer._x.shape, layer.weight.shape)
            spent.setdefault(key, [0.0, 0.0])[i] += time.perf_counter() - start
            return out
        return run
    for layer in model.modules():
        if hasattr(layer, "need_input_grad"):  # the convolution layers
            object.__setattr__(layer, "forward", timed(layer, layer.forward, 0))
            object.__setattr__(layer, "backward", timed(layer, layer.backward, 1))
    return lambda: _layer_report(step, steps, spent)


def torch_layer_times(case, steps):
    """convcore_layer_times for PyTorch, from torch.profiler's operator times by input shape."""
    import torch
    step = torch_step(case)
    spent = {}

    def run():
        with torch.profiler.profile(record_shapes=True) as prof:
            for _ in range(steps):
                step()
        for event in prof.key_averages(group_by_input_shape=True):
            shapes = event.input_shapes
            if event.key == "aten::convolution":  # (input, weight, ...)
                i, key = 0, _shape_key(shapes[0], shapes[1])
            elif event.key == "aten::convolution_backward":  # (grad_output, input, weight, ...)
                i, key = 1, _shape_key(shapes[1], shapes[2])
            else:
                continue
            spent.setdefault(key, [0.0, 0.0])[i] += event.cpu_time_total * 1e-6
        return spent
    return lambda: _layer_report(step, steps, spent, run)


def _layer_report(step, steps, spent, run=None):
    spent.clear()
    if run is None:
        for _ in range(steps):
            step()
    else:
        run()
    return json.dumps({key: [t / steps for t in times] for key, times in spent.items()})


def build(library, threads, case, layers=0):
    """{case: one step} of `library`'s worker (see _timing.serve), warmed up: allocations, thread
    pools, optimizer state; with `layers` (a number of steps), also {case + ":layers":
    convcore_layer_times(case, layers)} (or torch_layer_times)."""
    if library == "torch":
        import torch
        torch.set_num_threads(threads)
        step = torch_step(case)
        layer_times = torch_layer_times
    else:
        import convcore
        convcore.set_num_threads(threads)
        step = convcore_step(case)
        layer_times = convcore_layer_times
    cases = {case: step}
    if layers and case in TRAIN_CASES:
        cases[case + ":layers"] = layer_times(case, layers)
    for fn in cases.values():
        for _ in range(3):
            fn()
    return cases


def measure(case, threads, rounds, steps, layers=False, settle=0.0):
    """Median step time (s) of convcore and of PyTorch for `case`: a worker process per library
    (started afresh for every case), `rounds` turns of `steps` steps each, alternating, each turn
    after `settle` seconds of pause (see _timing.Workers.time); with `layers`, also {library:
    {shape: median seconds per step}} (convcore_layer_times)."""
    args = ["--threads", str(threads), "--case", case, "--steps", str(steps)]
    args += ["--layers"] if layers else []
    quiet = {"torch": {"KINETO_LOG_LEVEL": "5"}}  # the profiler's start and stop lines
    with Workers(__file__, ["convcore", "torch"], args, env=quiet if layers else None) as w:
        if w.missing:
            raise RuntimeError(f"no worker for {case}: {w.missing}")
        times = w.time([case], steps, rounds, settle)[case]
        if not layers:
            return times, None
        runs = {lib: [] for lib in w.procs}
        for r in range(rounds):
            for lib in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                runs[lib].append(json.loads(str(w.result(lib, case + ":layers"))))
        return times, {lib: {key: np.median([run[key] for run in runs], axis=0)
                             for key in runs[0]} for lib, runs in runs.items()}


def print_layers(case, by_library, step):
    """The table of --layers for one case (`step`: {library: the step's median seconds})."""
    cc, pt = by_library["convcore"], by_library["torch"]
    print(f"  {case}: convolution layers (input * weight), ms per step, ratio convcore / PyTorch")
    print(f"  {'layer':44s} {'forward':>8s} {'PyTorch':>8s} {'ratio':>6s} {'backward':>9s} "
          f"{'PyTorch':>8s} {'ratio':>6s}")
    sums = np.zeros((2, 2))
    for key in cc:
        ours, theirs = cc[key] * 1e3, pt.get(key, np.full(2, np.nan)) * 1e3
        sums += np.nan_to_num([ours, theirs])
        print(f"  {key:44s} {ours[0]:8.2f} {theirs[0]:8.2f} {ours[0] / theirs[0]:6.2f} "
              f"{ours[1]:9.2f} {theirs[1]:8.2f} {ours[1] / theirs[1]:6.2f}")
    conv = sums.sum(axis=1)
    rest = np.array([step["convcore"], step["torch"]]) * 1e3 - conv  # (not the profiled steps)
    for name, (a, b) in (("all convolutions", conv), ("the rest of the step", rest)):
        print(f"  {name:44s} {a:8.2f} {b:8.2f} {a / b:6.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round")
    parser.add_argument("--only", nargs="+", choices=TRAIN_CASES + list(CONV_CASES))
    parser.add_argument("--layers", action="store_true",
                        help="also time each convolution layer and the rest of the step")
    add_settle_argument(parser)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    add_worker_arguments(parser)
    args = parser.parse_args()
    if args.worker:
        return serve(lambda lib, t: build(lib, t, args.case, args.layers and args.steps),
                     args.worker, args.threads)
    print(header(args.threads))
    print(f"{args.rounds} rounds x {args.steps} steps; ratio = convcore / PyTorch (below 1: "
          "convcore is faster)")
    print(f"{'case':24s} {'convcore ms':>12s} {'PyTorch ms':>11s} {'ratio':>6s}")
    for case in args.only or TRAIN_CASES + list(CONV_CASES):
        t, layers = measure(case, args.threads, args.rounds, args.steps,
                            args.layers and case in TRAIN_CASES, args.settle)
        print(f"{case:24s} {t['convcore'] * 1e3:12.2f} {t['torch'] * 1e3:11.2f} "
              f"{t['convcore'] / t['torch']:6.2f}", flush=True)
        if layers:
            print_layers(case, layers, t)
    print(f"load average at the end {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

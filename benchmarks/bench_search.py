"""Architecture searches: convcore's scikit-learn estimator against skorch + PyTorch.

Usage: python benchmarks/bench_search.py [--candidates 20] [--cv 3] [--epochs 5] [--events 800]
                                         [--rounds 1] [--datasets digits events]

The same 20 candidates (drawn once with ParameterSampler from convcore.sklearn.ARCHITECTURE_SPACE,
seed 0) x 3 folds are cross-validated on the 8x8 digits and on the detector events (32x32, proton
or not) with GridSearchCV over that list, by:

- convcore: ``ConvNetClassifier`` (float32, Adam, batch 32, ``epochs`` epochs);
- skorch: ``NeuralNetClassifier`` around a PyTorch module built from the same choices, layer for
  layer (same padding, pooling, dropout and batch normalisation), with the same optimizer,
  learning rate, batch size and epochs, no internal validation split.

Each in three ways: ``n_jobs=1`` (one process, all cores to the library), ``n_jobs=2`` (joblib's
process pool; each worker gets cores // 2 threads) and on a ``distributed.LocalCluster`` of 2
worker processes with 1 thread each (through ``joblib.parallel_config(backend="dask")``; the
cluster's start-up is not timed). Every search runs in its own Python process (convcore and
PyTorch never share one), the two libraries alternating. Prints wall time, the best mean CV
accuracy and the ratio skorch / convcore (above 1: convcore faster), with threads, load average
and CPU features; ``thr`` is the kernel threads of each fitting process.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

MODES = ("n_jobs=1", "n_jobs=2", "LocalCluster(2x1)")


def candidates(n, seed=0):
    from sklearn.model_selection import ParameterSampler

    from convcore.sklearn import ARCHITECTURE_SPACE
    return [{k: (float(v) if isinstance(v, np.floating) else v) for k, v in p.items()}
            for p in ParameterSampler(ARCHITECTURE_SPACE, n, random_state=seed)]


def load(dataset, events):
    import convcore
    if dataset == "digits":
        return convcore.datasets.load_digits()
    return convcore.datasets.detector_events(events, size=32, seed=0)


# -- the PyTorch twin of convcore.sklearn's network ----------------------------------------------

def torch_network(conv_layers, filters, kernel_size, stride, pooling, dense_layers, units,
                  activation, dropout, batch_norm, sample_shape=(1, 8, 8), n_classes=10):
    """The network ConvNetClassifier builds for these choices (padding 'same'), in PyTorch."""
    import torch
    from torch import nn
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}
    layers, channels, spatial = [], sample_shape[0], list(sample_shape[1:])
    for _ in range(conv_layers):
        pad = "same" if stride == 1 else (kernel_size - 1) // 2
        layers.append(nn.Conv2d(channels, filters, kernel_size, stride=stride, padding=pad))
        if stride > 1:
            spatial = [(s + 2 * pad - kernel_size) // stride + 1 for s in spatial]
        channels = filters
        if batch_norm:
            layers.append(nn.BatchNorm2d(filters))
        layers.append(acts[activation]())
        if pooling is not None:
            window = tuple(min(2, s) for s in spatial)
            pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
            layers.append(pool(window, ceil_mode=True))
            spatial = [-(-s // w) for s, w in zip(spatial, window)]
    layers.append(nn.Flatten())
    width = channels * int(np.prod(spatial))
    for _ in range(dense_layers):
        layers.append(nn.Linear(width, units))
        if batch_norm:
            layers.append(nn.BatchNorm1d(units))
        layers.append(acts[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = units
    layers.append(nn.Linear(width, n_classes))
    return torch.nn.Sequential(*layers)


def estimator(lib, epochs, sample_shape, n_classes):
    if lib == "convcore":
        from convcore.sklearn import ConvNetClassifier
        return ConvNetClassifier(epochs=epochs, batch_size=32, random_state=0)
    import torch
    from skorch import NeuralNetClassifier
    return NeuralNetClassifier(torch_network, module__sample_shape=sample_shape,
                               module__n_classes=n_classes, criterion=torch.nn.CrossEntropyLoss,
                               optimizer=torch.optim.Adam, max_epochs=epochs, batch_size=32,
                               train_split=None, iterator_train__shuffle=True, verbose=0)


def grid(lib, cands):
    """GridSearchCV's list of one-point grids: exactly the drawn candidates, in order."""
    if lib == "convcore":
        return [{k: [v] for k, v in c.items()} for c in cands]
    rename = lambda k: "lr" if k == "learning_rate" else f"module__{k}"  # noqa: E731
    return [{rename(k): [v] for k, v in c.items()} for c in cands]


def lib_threads(lib):
    """The threads the library's kernels use in this process."""
    if lib == "skorch":
        import torch
        return torch.get_num_threads()
    import convcore
    return convcore.get_num_threads()


def child(args):
    """One search in this process; prints one JSON line."""
    import joblib
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    X, y = load(args.dataset, args.events)
    if args.lib == "skorch":
        import torch
        torch.manual_seed(0)
        X = X.astype(np.float32)
    cands = candidates(args.candidates)
    search = GridSearchCV(estimator(args.lib, args.epochs, X.shape[1:], int(y.max()) + 1),
                          grid(args.lib, cands), cv=StratifiedKFold(args.cv),
                          n_jobs=None if args.mode == "n_jobs=1" else 2, error_score="raise")
    if args.mode.startswith("LocalCluster"):
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            with joblib.parallel_config(backend="dask"):
                t0 = time.perf_counter()
                search.fit(X, y)
                wall = time.perf_counter() - t0
            threads = min(client.run(lib_threads, args.lib).values())
    else:
        t0 = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - t0
        threads = (lib_threads(args.lib) if args.mode == "n_jobs=1" else
                   min(joblib.Parallel(n_jobs=2)(joblib.delayed(lib_threads)(args.lib) for _ in range(2))))
    print(json.dumps({"wall": wall, "best": float(search.best_score_),
                      "best_index": int(search.best_index_), "threads": threads,
                      "fit": float(np.mean(search.cv_results_["mean_fit_time"]))}))


def run_child(lib, dataset, mode, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", lib, "--dataset", dataset,
           "--mode", mode, "--candidates", str(args.candidates), "--cv", str(args.cv),
           "--epochs", str(args.epochs), "--events", str(args.events)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{lib} {dataset} {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_features():
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next(line for line in fh if line.startswith("flags")).split()
        model = next(line for line in open("/proc/cpuinfo") if line.startswith("model name"))
        model = model.split(":", 1)[1].strip()
    except (OSError, StopIteration):
        return "unknown CPU"
    return f"{model}; " + " ".join(f for f in ("avx512f", "avx2", "fma") if f in flags)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--events", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=["digits", "events"])
    parser.add_argument("--libs", nargs="+", default=["convcore", "skorch"])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--child", choices=("convcore", "skorch"))
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--mode", choices=MODES, default="n_jobs=1")
    args = parser.parse_args()
    if args.child:
        args.lib = args.child
        return child(args)

    import joblib
    from importlib.util import find_spec
    # this parent process times nothing, so it loads neither library: each child reports its own
    if find_spec("skorch") is None or find_spec("torch") is None:
        args.libs = [lib for lib in args.libs if lib != "skorch"]
    versions = f"searched: {', '.join(args.libs)}"
    print(f"{cpu_features()}; {joblib.cpu_count()} cores; {versions}")
    print(f"{args.candidates} candidates x {args.cv} folds, {args.epochs} epochs, batch 32; "
          f"events: {args.events} of 32x32; {args.rounds} round(s), medians")
    print(f"{'dataset':<7} {'mode':<18} {'library':<9} {'wall s':>8} {'fit s':>6} {'best acc':>8} "
          f"{'best#':>5} {'thr':>3} {'load':>5}  skorch/convcore")
    for dataset in args.datasets:
        for mode in args.modes:
            results = {lib: [] for lib in args.libs}
            for r in range(args.rounds):
                order = args.libs if r % 2 == 0 else args.libs[::-1]  # alternate who goes first
                for lib in order:
                    results[lib].append(run_child(lib, dataset, mode, args))
            walls = {lib: float(np.median([x["wall"] for x in res])) for lib, res in results.items()}
            for lib, res in results.items():
                ratio = (f"{walls['skorch'] / walls['convcore']:.2f}x"
                         if lib == "skorch" and "convcore" in walls else "")
                print(f"{dataset:<7} {mode:<18} {lib:<9} {walls[lib]:8.1f} "
                      f"{np.median([x['fit'] for x in res]):6.2f} {res[-1]['best']:8.4f} "
                      f"{res[-1]['best_index']:5d} {res[-1]['threads']:3d} "
                      f"{os.getloadavg()[0]:5.2f}  {ratio}", flush=True)


if __name__ == "__main__":
    main()

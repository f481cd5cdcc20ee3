"""Train the issue's small CNN on scikit-learn's digits with convcore and (when installed) PyTorch.

Usage: python benchmarks/bench_digits.py [--threads N] [--epochs E] [--seed S]

Data: the 8x8 digits scaled to [0, 1], a 25% stratified test split (random_state 0). Network:
Conv2d(1,32,3,pad 1)-ReLU-MaxPool2 - Conv2d(32,64,3,pad 1)-ReLU-MaxPool2 - Flatten -
Linear(256,128)-ReLU - Linear(128,10), cross-entropy, Adam lr 1e-3, batch 32, 15 epochs, float32.
Both frameworks start from the same initial weights, see the same mini-batches in the same order
and run with the same thread count, each in a worker process of its own (neither loads the
other, see _timing.py). The two take turns, one epoch each (convcore's through
model.fit(epochs=1) with the optimizer carried over), so a busy machine slows both alike. Prints
the median epoch time and the test accuracy of each (targets: accuracy >= 98%, convcore's epoch
no slower than PyTorch's).

On a machine shared with other busy processes, OpenMP's default spin-waiting makes every parallel
region of PyTorch pay for descheduled threads; ``OMP_WAIT_POLICY=PASSIVE``, set by the user before
Python starts, changes that for every OpenMP library in the process (convcore's kernels run on a
pool of their own and do not read it). The header line shows the policy in effect.
"""
import argparse
import os
import tempfile
import time

import numpy as np

from _timing import Workers, add_worker_arguments, header, serve

BATCH, LR, EPOCHS = 32, 1e-3, 15


def load_digits_split():
    """(X_train, X_test, y_train, y_test): float32 (N, 1, 8, 8) images in [0, 1], int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(X, digits.target.astype(np.int64), test_size=0.25,
                            stratify=digits.target, random_state=0)


def build_model(seed):
    from convcore import nn

    nn.init.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def epoch_orders(n, epochs, seed):
    """The per-epoch shuffles (the ones ``fit(seed=seed)`` would draw), shared by both runs."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def convcore_epoch(model, optimizer, X, y, order):
    """One epoch of model.fit over the batches of `order`; returns its time (s)."""
    history = model.fit(X[order], y[order], epochs=1, batch_size=BATCH, optimizer=optimizer,
                        shuffle=False, verbose=0)
    return history.history["time"][0]


def torch_epoch(torch, model, optimizer, tX, ty, order):
    loss_fn = torch.nn.functional.cross_entropy
    model.train()
    start = time.perf_counter()
    idx_all = torch.from_numpy(order)
    for b in range(0, len(order), BATCH):
        idx = idx_all[b:b + BATCH]
        optimizer.zero_grad()
        loss = loss_fn(model(tX[idx]), ty[idx])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def torch_twin(torch, model):
    """The PyTorch network with `model`'s weights (a convcore model or its state dict)."""
    state = model if isinstance(model, dict) else model.state_dict()
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    tnet.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return tnet


def build(library, threads, epochs, seed, weights):
    """The worker's cases: "epoch" (trains the next epoch of the shared shuffles) and "accuracy"
    (on the test split). The convcore worker (started first) writes the initial weights to
    `weights`, the torch worker starts from them."""
    X_train, X_test, y_train, y_test = load_digits_split()
    orders = iter(epoch_orders(len(X_train), epochs, seed))
    if library == "convcore":
        import convcore

        convcore.set_num_threads(threads)
        model = build_model(seed)
        np.savez(weights, **model.state_dict())
        optimizer = convcore.optim.Adam(model, lr=LR)
        epoch = lambda: convcore_epoch(model, optimizer, X_train, y_train, next(orders))  # noqa
        accuracy = lambda: float(np.mean(model.predict(X_test) == y_test))  # noqa: E731
    else:
        import torch

        torch.set_num_threads(threads)
        with np.load(weights) as state:
            tnet = torch_twin(torch, dict(state))
        topt = torch.optim.Adam(tnet.parameters(), lr=LR)
        tX, ty = torch.from_numpy(X_train), torch.from_numpy(y_train)
        epoch = lambda: torch_epoch(torch, tnet, topt, tX, ty, next(orders))  # noqa: E731

        def accuracy():
            tnet.eval()
            with torch.no_grad():
                return float((tnet(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
    return {"epoch": epoch, "accuracy": accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", help=argparse.SUPPRESS)  # for the workers
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        return serve(lambda lib, t: build(lib, t, args.epochs, args.seed, args.weights),
                     args.worker, args.threads)
    print(f"digits 8x8: batch {BATCH}, Adam {LR}, {args.epochs} epochs, each library in its own "
          f"process, epochs timed in turns; OpenMP wait policy "
          f"{os.environ.get('OMP_WAIT_POLICY', 'runtime default')}")
    print(header(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        forwarded = ["--threads", str(args.threads), "--epochs", str(args.epochs), "--seed",
                     str(args.seed), "--weights", os.path.join(tmp, "init.npz")]
        with Workers(__file__, ["convcore", "torch"], forwarded) as workers:
            times = {lib: [] for lib in workers.procs}
            for r in range(args.epochs):  # alternate, so a change of load hits both alike
                for lib in (list(times) if r % 2 == 0 else list(times)[::-1]):
                    times[lib] += workers.run(lib, "epoch")
            acc = {lib: float(workers.result(lib, "accuracy")) for lib in workers.procs}
    print(f"{'framework':<10}{'median epoch (ms)':>19}{'test accuracy':>15}")
    for lib in times:
        print(f"{lib:<10}{1e3 * np.median(times[lib]):>19.1f}{acc[lib]:>15.4f}")
    if "torch" in times:
        print(f"epoch time ratio convcore / torch: "
              f"{np.median(times['convcore']) / np.median(times['torch']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

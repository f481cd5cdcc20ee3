"""Train the issue's small CNN on scikit-learn's digits with convcore and (when installed) PyTorch.

Usage: python benchmarks/bench_digits.py [--threads N] [--epochs E] [--seed S]

Data: the 8x8 digits scaled to [0, 1], a 25% stratified test split (random_state 0). Network:
Conv2d(1,32,3,pad 1)-ReLU-MaxPool2 - Conv2d(32,64,3,pad 1)-ReLU-MaxPool2 - Flatten -
Linear(256,128)-ReLU - Linear(128,10), cross-entropy, Adam lr 1e-3, batch 32, 15 epochs, float32.
Both frameworks start from the same initial weights, see the same mini-batches in the same order
and run with the same thread count. The two take turns, one epoch each (convcore's through
model.fit(epochs=1) with the optimizer carried over), so a busy machine slows both alike. Prints
the median epoch time and the test accuracy of each (targets: accuracy >= 98%, convcore's epoch
no slower than PyTorch's).

On a machine shared with other busy processes, OpenMP's default spin-waiting makes every parallel
region pay for descheduled threads; ``OMP_WAIT_POLICY=PASSIVE``, set by the user before Python
starts, changes that for every OpenMP library in the process (see ``convcore._runtime``). The
header line shows the policy in effect.
"""
import argparse
import time

import numpy as np

import convcore
from convcore import nn

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
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    tnet.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return tnet


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=convcore.get_num_threads())
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    convcore.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = load_digits_split()
    orders = epoch_orders(len(X_train), args.epochs, args.seed)
    model = build_model(args.seed)
    try:
        import torch
        torch.set_num_threads(args.threads)
        tnet = torch_twin(torch, model)
    except ImportError:
        torch = tnet = None

    print(f"digits 8x8: train {len(X_train)}, test {len(X_test)}; batch {BATCH}, Adam {LR}, "
          f"{args.epochs} epochs, threads={args.threads}, "
          f"OpenMP wait policy {convcore._runtime.wait_policy()}; epochs timed in turns")
    optimizer = convcore.optim.Adam(model, lr=LR)
    if torch is not None:
        topt = torch.optim.Adam(tnet.parameters(), lr=LR)
        tX, ty = torch.from_numpy(X_train), torch.from_numpy(y_train)
    times, ttimes = [], []
    for order in orders:  # alternate, so a change in the machine's load hits both alike
        times.append(convcore_epoch(model, optimizer, X_train, y_train, order))
        if torch is not None:
            ttimes.append(torch_epoch(torch, tnet, topt, tX, ty, order))
    acc = float(np.mean(model.predict(X_test) == y_test))
    print(f"{'framework':<10}{'median epoch (ms)':>19}{'test accuracy':>15}")
    print(f"{'convcore':<10}{1e3 * np.median(times):>19.1f}{acc:>15.4f}")
    if torch is not None:
        tnet.eval()
        with torch.no_grad():
            tacc = float((tnet(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
        print(f"{'torch':<10}{1e3 * np.median(ttimes):>19.1f}{tacc:>15.4f}")
        print(f"epoch time ratio convcore / torch: {np.median(times) / np.median(ttimes):.2f}")
    else:
        print("torch not installed: no PyTorch comparison")
    return acc


if __name__ == "__main__":
    main()

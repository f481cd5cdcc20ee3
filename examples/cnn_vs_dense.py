"""Choosing an architecture: a small CNN against a dense network on the same detector events.

Both see the same training events for the same number of epochs; the CNN shares its filters over
the image (few parameters, translation-invariant), the dense network has a weight per pixel.

    python examples/cnn_vs_dense.py [--events 3000] [--epochs 8] [--seed 0]
"""
import argparse
import time

from convcore import losses, metrics, nn, optim
from convcore.datasets import detector_events, train_test_split


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 2))


def dense():
    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 128), nn.ReLU(),
                         nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = detector_events(args.events, size=32, seed=args.seed, proton_fraction=0.3)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.25,
                                                        seed=args.seed, stratify=labels)
    rows = []
    for name, build in (("CNN", cnn), ("dense", dense)):
        nn.init.manual_seed(args.seed)
        model = build()
        start = time.perf_counter()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                  loss=losses.CrossEntropyLoss(),
                  optimizer=optim.Adam(model.parameters(), lr=2e-3), seed=args.seed, verbose=False)
        seconds = time.perf_counter() - start
        predicted = model.predict(x_test)
        p, r, f, _ = metrics.precision_recall_fscore_support(y_test, predicted, average="binary",
                                                             zero_division=0)
        rows.append((name, model.num_parameters(), metrics.accuracy_score(y_test, predicted),
                     p, r, f, seconds))
    print(f"{'model':<6} {'parameters':>10} {'accuracy':>9} {'precision':>9} {'recall':>9} "
          f"{'F1':>9} {'train s':>8}")
    for name, n_params, acc, p, r, f, seconds in rows:
        print(f"{name:<6} {n_params:>10} {acc:>9.3f} {p:>9.3f} {r:>9.3f} {f:>9.3f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()

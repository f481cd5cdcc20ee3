"""Proton or not? A CNN on simulated detector events, judged by the lecture's metrics.

Trains on 3000 events (30% protons), then shows how the decision threshold on the predicted
proton probability trades precision against recall.

    python examples/detector_binary.py [--events 3000] [--epochs 8] [--seed 0]
"""
import argparse

import numpy as np

from convcore import losses, metrics, nn, optim
from convcore.datasets import detector_events, train_test_split


def build_model(size):
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * (size // 4) ** 2, 32), nn.ReLU(), nn.Linear(32, 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = detector_events(args.events, size=32, seed=args.seed, proton_fraction=0.3)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.25,
                                                        seed=args.seed, stratify=labels)
    nn.init.manual_seed(args.seed)
    model = build_model(32)
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
              loss=losses.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=2e-3),
              validation_data=(x_test, y_test), seed=args.seed, verbose=2)

    proton_probability = model.predict_proba(x_test)[:, 1]
    print(f"\n{'threshold':>9} {'precision':>9} {'recall':>9} {'F1':>9} {'accuracy':>9}")
    for threshold in (0.2, 0.35, 0.5, 0.65, 0.8):
        predicted = (proton_probability >= threshold).astype(int)
        p, r, f, _ = metrics.precision_recall_fscore_support(y_test, predicted, average="binary",
                                                             zero_division=0)
        print(f"{threshold:>9.2f} {p:>9.3f} {r:>9.3f} {f:>9.3f} "
              f"{metrics.accuracy_score(y_test, predicted):>9.3f}")

    predicted = (proton_probability >= 0.5).astype(int)
    print("\nConfusion matrix at 0.5 (rows true, columns predicted; proton first):")
    print(metrics.confusion_matrix(y_test, predicted, labels=[1, 0]))
    print(metrics.classification_report(y_test, predicted, labels=[1, 0],
                                        target_names=["proton", "not proton"], digits=3,
                                        zero_division=0))


if __name__ == "__main__":
    main()

"""Handwritten digits (scikit-learn's 8x8 images) with a small CNN; needs scikit-learn.

    python examples/digits_cnn.py [--epochs 15] [--seed 0]
"""
import argparse

from convcore import losses, metrics, nn, optim
from convcore.datasets import load_digits, train_test_split


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.25,
                                                        seed=args.seed, stratify=labels)
    nn.init.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Linear(128, 10))
    print(model.summary((1, 8, 8)))
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
              loss=losses.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=1e-3),
              validation_data=(x_test, y_test), seed=args.seed, verbose=2)
    predicted = model.predict(x_test)
    print(f"\ntest accuracy: {metrics.accuracy_score(y_test, predicted):.4f}")
    print(metrics.confusion_matrix(y_test, predicted))
    print(metrics.classification_report(y_test, predicted, digits=3, zero_division=0))


if __name__ == "__main__":
    main()

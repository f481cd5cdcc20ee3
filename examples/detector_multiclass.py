"""Which particle made this track? Proton, muon, pion or electron, with a 4x4 confusion matrix.

Muons and pions are both minimum-ionising tracks (pions kink more often), so they are the pair
the network confuses most; protons (Bragg peak) and electrons (showers) stand apart.

    python examples/detector_multiclass.py [--events 3000] [--epochs 8] [--seed 0] [--plot cm.png]
"""
import argparse

from convcore import losses, metrics, nn, optim
from convcore.datasets import PARTICLES, detector_events, train_test_split


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", help="write the confusion matrix figure here (needs matplotlib)")
    args = parser.parse_args()

    images, kinds = detector_events(args.events, size=32, seed=args.seed, proton_fraction=0.25,
                                    multiclass=True)
    x_train, x_test, y_train, y_test = train_test_split(images, kinds, test_size=0.25,
                                                        seed=args.seed, stratify=kinds)
    nn.init.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(64, len(PARTICLES)))
    print(model.summary((1, 32, 32)))
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
              loss=losses.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters(), lr=2e-3),
              validation_data=(x_test, y_test), seed=args.seed, verbose=2)

    predicted = model.predict(x_test)
    cm = metrics.confusion_matrix(y_test, predicted, labels=range(len(PARTICLES)))
    print("\nConfusion matrix (rows: true, columns: predicted):")
    print(" " * 10 + "".join(f"{name:>10}" for name in PARTICLES))
    for name, row in zip(PARTICLES, cm):
        print(f"{name:>10}" + "".join(f"{v:>10}" for v in row))
    print()
    print(metrics.classification_report(y_test, predicted, target_names=PARTICLES, digits=3,
                                        zero_division=0))
    if args.plot:
        from convcore.plots import plot_confusion_matrix
        plot_confusion_matrix(cm, labels=PARTICLES, normalize=True, path=args.plot)
        print(f"figure written to {args.plot}")


if __name__ == "__main__":
    main()

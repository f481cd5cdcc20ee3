"""Choosing an architecture: the lecture's questions answered by a randomized search.

How many convolution layers, how many filters, which filter size and stride, pooling or not, how
many dense layers and units, which activation, dropout or not, batch normalisation, which learning
rate? Instead of loops written by hand, :class:`convcore.sklearn.ConvNetClassifier` takes these
choices as parameters and scikit-learn searches them: a randomized search, cross-validated, on the
simulated detector events (proton or not). The search prints a ranked table under a progress bar,
writes its figures, refits the best network and saves it with ``model.save``; this example then
reads the answer to each question off the search and checks the saved network.

    python examples/choosing_an_architecture.py [--events 1200] [--n-iter 20] [--cv 3]
        [--epochs 5] [--n-jobs -1] [--scheduler tcp://host:8786] [--output DIR]

With ``--scheduler`` the fits run on a dask cluster (``dask-scheduler`` and ``dask-worker``
processes, or any ``dask.distributed`` deployment); the results are the same as locally.
"""
import argparse
import os

import numpy as np

import convcore
from convcore.datasets import detector_events
from convcore.sklearn import choose_architecture


def answers(search, out=print):
    """For every question (parameter), the mean validation accuracy of the candidates that chose
    each answer: a rough marginal view, next to the single best combination."""
    res = search.cv_results_
    out("\nmean validation accuracy by answer (candidates that chose it):")
    for key in sorted(k for k in res if k.startswith("param_")):
        values = list(res[key])
        if key == "param_learning_rate":  # continuous: compare the low and high halves
            lr = np.array(values, dtype=float)
            cut = np.median(lr)
            groups = {f"< {cut:.3g}": lr < cut, f">= {cut:.3g}": lr >= cut}
        else:
            groups = {str(v): np.array([w == v for w in values]) for v in dict.fromkeys(values)}
        shown = ", ".join(f"{name}: {res['mean_test_accuracy'][mask].mean():.3f} ({mask.sum()})"
                          for name, mask in groups.items())
        out(f"  {key[len('param_'):]:<13} {shown}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1200)
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="choosing-an-architecture")
    args = parser.parse_args()

    images, labels = detector_events(args.events, size=32, seed=args.seed)
    print(f"{len(images)} detector events {images.shape[1:]}, {labels.mean():.0%} protons")
    search = choose_architecture(images, labels, n_iter=args.n_iter, cv=args.cv,
                                 epochs=args.epochs, n_jobs=args.n_jobs, scheduler=args.scheduler,
                                 seed=args.seed, output=args.output)
    answers(search)

    best = search.best_estimator_
    print("\nthe chosen network:")
    print(best.model_.summary())
    # the saved file is the network itself: reloaded, it gives the estimator's probabilities
    again = convcore.load(os.path.join(args.output, "best_model.npz"))
    same = np.allclose(again.predict_proba(images[:64]), best.predict_proba(images[:64]), atol=1e-6)
    print(f"reloaded {os.path.join(args.output, 'best_model.npz')}: same predictions: {same}")


if __name__ == "__main__":
    main()

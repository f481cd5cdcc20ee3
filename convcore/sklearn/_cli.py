"""``convcore search``: the lecture's "choosing an architecture" answered by a randomized search
on the detector events (proton or not), locally or on a dask cluster (``--scheduler``).

Prints the ranked table (mean and std of the validation accuracy, fit time, parameter count)
under a progress bar, writes the figures (scores against every parameter, the best network's
training curves), refits the best network on the training events, scores it on held-out events
and saves it with ``model.save``. :func:`choose_architecture` does the same from Python.
"""
import os
import sys
import time

import numpy as np

__all__ = ["add_arguments", "run", "choose_architecture"]


def add_arguments(parser):
    """Declare the options of ``convcore search`` on an ``argparse`` parser."""
    parser.add_argument("--dataset", choices=("events", "digits"), default="events",
                        help="detector events (proton or not, default) or the 8x8 digits")
    parser.add_argument("--events", type=int, default=1200,
                        help="simulated events, a quarter held out for the final test (default 1200)")
    parser.add_argument("--size", type=int, default=32, help="detector size in pixels (default 32)")
    parser.add_argument("--n-iter", type=int, default=20, help="candidates drawn (default 20)")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per fit (default 5)")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="joblib processes (default -1: one per core, each with "
                             "cores // processes kernel threads)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run the fits on the dask cluster at ADDRESS (e.g. tcp://host:8786)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, candidates and networks")
    parser.add_argument("--output", default="convcore-search",
                        help="directory for the figures, the results table and best_model.npz")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args):
    """Entry point of ``convcore search``."""
    from .._validation import as_int, check_output_dir
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print('convcore search: error: needs scikit-learn: pip install "convcore[ml]"',
              file=sys.stderr)
        return 2
    try:
        for name in ("events", "n_iter", "cv", "epochs"):
            as_int(getattr(args, name), name.replace("_", "-"), 2 if name in ("cv", "events") else 1)
        if args.n_jobs == 0:
            raise ValueError("n-jobs must be a positive count or negative (-1: all cores), got 0")
        if args.output is not None:
            check_output_dir(args.output, "--output")
        X, y = _data(args.dataset, args.events, args.size, args.seed)
    except (ValueError, TypeError) as exc:
        print(f"convcore search: error: {exc}", file=sys.stderr)
        return 2
    try:
        choose_architecture(X, y, n_iter=args.n_iter, cv=args.cv, epochs=args.epochs,
                            n_jobs=args.n_jobs, scheduler=args.scheduler, seed=args.seed,
                            output=args.output, progress=not args.no_progress)
    except OSError as exc:  # an unreachable scheduler, an unwritable output directory
        print(f"convcore search: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # the data cannot be split as asked (too few samples of a class)
        print(f"convcore search: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _data(name, events, size, seed):
    from .. import datasets
    if name == "digits":
        return datasets.load_digits()
    return datasets.detector_events(events, size=size, seed=seed)


def choose_architecture(X, y, *, space=None, n_iter=20, cv=3, epochs=5, n_jobs=-1, scheduler=None,
                        seed=0, output=None, progress=True, out=print):
    """Search the slide's architecture choices for a classifier of ``(X, y)``.

    A quarter of the samples (stratified) is held out; a :class:`ProgressRandomizedSearchCV` over
    ``space`` (default :data:`ARCHITECTURE_SPACE`) runs ``cv``-fold on the rest, on the dask cluster
    at ``scheduler`` when given; the best candidate is refitted on all the rest and scored on the
    held-out part.

    Parameters
    ----------
    X : ndarray of shape ``(n, channels, *spatial)``
    y : ndarray of class labels
    output : str or path-like, optional
        Directory for ``results.txt``, ``search_scores.png``, ``best_history.png`` (matplotlib
        installed) and ``best_model.npz``.
    out : callable
        Where the table and the summary lines go (``print``).

    Returns
    -------
    search : ProgressRandomizedSearchCV
        Fitted; ``search.test_score_`` holds the held-out accuracy of the refitted best network.
    """
    from sklearn.model_selection import train_test_split

    from ._estimator import ConvNetClassifier
    from ._search import (ARCHITECTURE_SPACE, ProgressRandomizedSearchCV, _fmt, count_parameters,
                          dask_backend, plot_history, plot_search, ranked_table)

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    rarest = int(np.unique(y_train, return_counts=True)[1].min())
    if isinstance(cv, int) and cv > rarest:    # refused now, not after the first fits
        raise ValueError(f"cv={cv} folds need {cv} samples of every class among the "
                         f"{len(y_train)} searched; the rarest class has {rarest}")
    search = ProgressRandomizedSearchCV(
        ConvNetClassifier(epochs=epochs, random_state=seed),
        ARCHITECTURE_SPACE if space is None else space, n_iter=n_iter, cv=cv, n_jobs=n_jobs,
        scoring={"accuracy": "accuracy", "parameters": count_parameters}, refit="accuracy",
        return_train_score=True, random_state=seed, progress=progress)
    where = f"the dask cluster at {scheduler}" if scheduler else f"n_jobs={n_jobs}"
    out(f"searching {n_iter} architectures x {cv} folds on {len(X_train)} samples "
        f"{tuple(X.shape[1:])}, {epochs} epochs each, on {where}")
    t0 = time.perf_counter()
    with dask_backend(scheduler):
        search.fit(X_train, y_train)
    elapsed = time.perf_counter() - t0
    table = ranked_table(search)
    out(table)
    best = search.best_estimator_
    search.test_score_ = best.score(X_test, y_test)
    best_params = ", ".join(f"{k}={_fmt(v)}" for k, v in search.best_params_.items())
    out(f"search: {elapsed:.1f} s; best: {best_params}")
    out(f"best network: {best.model_.num_parameters():,} parameters, held-out accuracy "
        f"{search.test_score_:.4f} ({len(y_test)} samples)")
    if output is not None:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "results.txt"), "w") as fh:
            fh.write(table + "\n")
        path = os.path.join(output, "best_model.npz")
        best.model_.save(path)
        out(f"wrote {path} (convcore.load reads it back)")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            out("matplotlib is not installed: no figures")
        else:
            import matplotlib.pyplot as plt
            for name, plot, what in (("search_scores.png", plot_search, search),
                                     ("best_history.png", plot_history, best)):
                plt.close(plot(what, os.path.join(output, name)))
            out(f"wrote {os.path.join(output, 'search_scores.png')} and best_history.png")
    return search

"""The lecture's "choosing an architecture" as a randomized search: the space of the slide's
questions, a search with a progress bar, the ranked table, the figures, and dask clusters.

Examples
--------
>>> from sklearn.datasets import load_digits
>>> from convcore.sklearn import ConvNetClassifier, ProgressRandomizedSearchCV, ranked_table
>>> X, y = load_digits(return_X_y=True)
>>> search = ProgressRandomizedSearchCV(
...     ConvNetClassifier(input_shape=(1, 8, 8), epochs=2, random_state=0),
...     {"filters": [4, 8], "pooling": ["max", None]}, n_iter=2, cv=2, random_state=0,
...     progress=False).fit(X[:300] / 16, y[:300])
>>> print(ranked_table(search).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
rank  accuracy (mean +- std)  fit time (s)  filters  pooling
"""
import contextlib

import joblib
import numpy as np
from scipy.stats import loguniform
from sklearn.base import is_classifier
from sklearn.model_selection import ParameterSampler, RandomizedSearchCV, check_cv

__all__ = ["ARCHITECTURE_SPACE", "ProgressRandomizedSearchCV", "count_parameters",
           "dask_backend", "ranked_table", "plot_search", "plot_history"]

#: The slide's questions: how many layers, how many nodes per layer, which learning rate, dropout
#: or not, which activation, how many convolution layers, which filter size, which stride,
#: pooling or not.
ARCHITECTURE_SPACE = {
    "conv_layers": [1, 2, 3],
    "filters": [4, 8, 16],
    "kernel_size": [3, 5],
    "stride": [1, 2],
    "pooling": ["max", "avg", None],
    "dense_layers": [0, 1, 2],
    "units": [16, 32, 64],
    "activation": ["relu", "tanh", "leaky_relu"],
    "dropout": [0.0, 0.25, 0.5],
    "batch_norm": [False, True],
    "learning_rate": loguniform(1e-3, 3e-2),
}


def count_parameters(estimator, X=None, y=None):
    """Scorer-shaped ``(estimator, X, y) -> int``: the fitted network's parameter count, so a
    search reports it next to the scores (``scoring={'accuracy': ..., 'parameters': this}``)."""
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    return final.model_.num_parameters()


class ProgressRandomizedSearchCV(RandomizedSearchCV):
    """scikit-learn's :class:`~sklearn.model_selection.RandomizedSearchCV` with a tqdm progress
    bar over the (candidate, fold) fits.

    The candidates are the ones ``RandomizedSearchCV`` draws with the same ``random_state``; they
    are handed to joblib a few at a time (``2 x n_jobs`` candidates; the results are the same as
    in one go) so the bar advances while the search runs, in processes or on a dask cluster.

    Parameters
    ----------
    progress : bool, default=True
        Show the bar (when tqdm is installed).

    The other parameters are ``RandomizedSearchCV``'s.
    """

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None,
                 error_score=np.nan, return_train_score=False, progress=True):
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring,
                         n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        self.progress = progress

    def _run_search(self, evaluate_candidates):
        candidates = list(ParameterSampler(self.param_distributions, self.n_iter,
                                           random_state=self.random_state))
        step = 2 * max(1, joblib.effective_n_jobs(self.n_jobs))
        folds = getattr(self, "n_splits_", None) or check_cv(self.cv).get_n_splits()
        bar = _bar(self.progress, len(candidates) * folds)
        try:
            for start in range(0, len(candidates), step):
                chunk = candidates[start:start + step]
                evaluate_candidates(chunk)
                if bar is not None:
                    bar.update(len(chunk) * folds)
        finally:
            if bar is not None:
                bar.close()


def _bar(progress, total):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="search", unit="fit")


@contextlib.contextmanager
def dask_backend(scheduler):
    """Run the joblib work inside on the dask cluster at ``scheduler`` (``'tcp://host:8786'``,
    or a ``Client``/``LocalCluster``); ``None`` runs it locally."""
    if scheduler is None:
        yield None
        return
    from dask.distributed import Client
    with Client(scheduler) as client, joblib.parallel_config(backend="dask"):
        yield client


def _searched(search):
    return sorted(k[len("param_"):] for k in search.cv_results_ if k.startswith("param_"))


def _metric(search):
    """The refit metric's name in cv_results_ and how to show it."""
    if isinstance(search.refit, str):
        return search.refit, search.refit
    if isinstance(search.scoring, str):
        return "score", search.scoring
    return "score", "accuracy" if is_classifier(search.estimator) else "R^2"



def ranked_table(search, top=None):
    """The candidates of a fitted search, best first: rank, mean +- std of the validation score,
    mean fit time, the network's parameter count (when the search scored ``'parameters'`` with
    :func:`count_parameters`) and the parameters searched."""
    res = search.cv_results_
    key, label = _metric(search)
    order = np.argsort(res[f"rank_test_{key}"], kind="stable")[:top]
    names = _searched(search)
    head = ["rank", f"{label} (mean +- std)", "fit time (s)"]
    if "mean_test_parameters" in res:
        head.append("parameters")
    head += names
    rows = []
    for i in order:
        row = [str(res[f"rank_test_{key}"][i]),
               f"{res[f'mean_test_{key}'][i]:.4f} +- {res[f'std_test_{key}'][i]:.4f}",
               f"{res['mean_fit_time'][i]:.2f}"]
        if "mean_test_parameters" in res:
            row.append(f"{int(res['mean_test_parameters'][i]):,}")
        row += [_fmt(res[f"param_{n}"][i]) for n in names]
        rows.append(row)
    widths = [max(len(r[j]) for r in [head] + rows) for j in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + rows)


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def plot_search(search, path):
    """One panel per searched parameter: every candidate's mean validation score (and training
    score, when the search kept it) against the parameter's value, with the folds' std as error
    bars: the validation curves of the search. Writes ``path`` (PNG) and returns the figure."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    res = search.cv_results_
    key, label = _metric(search)
    names = _searched(search)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = list(res[f"param_{name}"])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 4:
            x = np.asarray(values, dtype=float)
            ax.set_xscale("log")
        else:
            try:
                levels = sorted(set(values))
            except TypeError:  # None among strings
                levels = sorted(set(values), key=str)
            x = np.array([levels.index(v) for v in values], dtype=float)
            x += np.random.default_rng(0).uniform(-0.12, 0.12, len(x))  # see overlapping points
            ax.set_xticks(range(len(levels)), [str(v) for v in levels])
            ax.set_xlim(-0.5, len(levels) - 0.5)
        for split, colour in (("test", "C0"), ("train", "C1")):
            if f"mean_{split}_{key}" in res:
                ax.errorbar(x, res[f"mean_{split}_{key}"], yerr=res[f"std_{split}_{key}"], fmt="o",
                            ms=4, color=colour, alpha=0.8,
                            label="validation" if split == "test" else "training")
        ax.set_xlabel(name)
        ax.set_ylabel(label)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    fig.suptitle(f"{len(values)} candidates, {search.n_splits_}-fold cross-validation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


def plot_history(estimator, path):
    """Per-epoch training (and validation, with early stopping) loss and accuracy of a fitted
    estimator (or a pipeline ending in one). Writes ``path`` and returns the figure."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    history = (estimator[-1] if hasattr(estimator, "steps") else estimator).history_
    metrics = [m for m in ("loss", "accuracy") if m in history]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "o-", label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig

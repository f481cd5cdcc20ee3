"""scikit-learn estimators for convcore networks: searched with GridSearchCV & co, locally or on dask.

:class:`ConvNetClassifier` and :class:`ConvNetRegressor` take the lecture's "choosing an
architecture" questions as parameters (how many convolution and dense layers, how many filters and
units, kernel size, stride, pooling, activation, dropout, batch normalisation, learning rate), or
any convcore network through ``module=`` with ``module__<name>`` arguments, and work wherever
scikit-learn estimators do: ``cross_val_score``, ``Pipeline``, ``GridSearchCV``,
``RandomizedSearchCV``, ``HalvingRandomSearchCV``.

Parallel searches: with ``n_jobs=-1`` joblib runs one process per core and sets
``OMP_NUM_THREADS`` to cores // workers in each, which convcore's kernels follow when
``threads=None`` (the default), so workers x threads never exceeds the cores. On a dask cluster::

    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")   # or Client(LocalCluster(...))
    with joblib.parallel_config(backend="dask"):
        search.fit(X, y)

dask's nanny starts each worker with ``OMP_NUM_THREADS=1``: one kernel thread per worker thread.
Needs scikit-learn (``pip install "convcore[ml]"``); the names are imported on first use, so
``import convcore.sklearn`` (and ``convcore --help``) work without it.
"""
import importlib

_EXPORTS = {
    "ConvNetClassifier": "_estimator", "ConvNetRegressor": "_estimator",
    "ARCHITECTURE_SPACE": "_search", "ProgressRandomizedSearchCV": "_search",
    "count_parameters": "_search", "dask_backend": "_search", "plot_history": "_search",
    "plot_search": "_search", "ranked_table": "_search", "choose_architecture": "_cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'convcore.sklearn' has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "sklearn":
            raise ImportError(f'convcore.sklearn.{name} needs scikit-learn: '
                              f'pip install "convcore[ml]"') from exc
        raise
    return getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))

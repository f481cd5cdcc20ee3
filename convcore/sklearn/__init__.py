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
Needs scikit-learn (``pip install "convcore[ml]"``).
"""
from ._cli import choose_architecture
from ._estimator import ConvNetClassifier, ConvNetRegressor
from ._search import (ARCHITECTURE_SPACE, ProgressRandomizedSearchCV, count_parameters, dask_backend,
                      plot_history, plot_search, ranked_table)

__all__ = ["ConvNetClassifier", "ConvNetRegressor", "ARCHITECTURE_SPACE", "ProgressRandomizedSearchCV",
           "choose_architecture", "count_parameters", "dask_backend", "plot_history", "plot_search",
           "ranked_table"]

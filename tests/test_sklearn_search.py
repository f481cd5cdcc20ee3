"""Searches with convcore.sklearn: scikit-learn's searches against a hand-written loop, process
pools, Pipeline, successive halving, a real dask LocalCluster, and the ``convcore search`` CLI."""
import os

import numpy as np
import pytest

import convcore
from convcore import nn


from test_sklearn import sk  # noqa: F401  (the fixture: convcore.sklearn, skipped without sklearn)
from test_sklearn import digits as digits600  # noqa: F401


@pytest.fixture
def digits(digits600):  # noqa: F811
    X, y = digits600
    return X[:300], y[:300]


def tiny(sk, **params):
    return sk.ConvNetClassifier(input_shape=(1, 8, 8), conv_layers=1, filters=4, units=16, epochs=2,
                                learning_rate=0.01, random_state=0, **params)


GRID = {"pooling": ["max", None], "kernel_size": [3, 5]}


def test_grid_search_equals_a_hand_written_loop_and_a_process_pool(sk, digits):
    """GridSearchCV's scores are cross_val_score's for each candidate, computed by hand, and
    n_jobs=-1 (joblib's process pool) gives the same numbers."""
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold, cross_val_score
    X, y = digits
    cv = StratifiedKFold(3)
    search = GridSearchCV(tiny(sk), GRID, cv=cv).fit(X, y)
    by_hand = [cross_val_score(clone(tiny(sk)).set_params(**p), X, y, cv=cv).mean()
               for p in ParameterGrid(GRID)]
    assert search.cv_results_["params"] == list(ParameterGrid(GRID))
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], by_hand)
    pooled = GridSearchCV(tiny(sk), GRID, cv=cv, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(pooled.cv_results_["mean_test_score"], by_hand)
    assert search.best_params_ == pooled.best_params_
    np.testing.assert_array_equal(search.predict_proba(X), pooled.predict_proba(X))


def test_progress_search_is_randomized_search(sk, digits, capsys):
    """The chunked search with a progress bar draws the same candidates and finds the same scores
    as scikit-learn's RandomizedSearchCV."""
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV
    X, y = digits
    space = {"filters": [2, 4, 8], "activation": ["relu", "tanh"], "learning_rate": loguniform(1e-3, 1e-1)}
    plain = RandomizedSearchCV(tiny(sk), space, n_iter=5, cv=2, random_state=1).fit(X, y)
    barred = sk.ProgressRandomizedSearchCV(tiny(sk), space, n_iter=5, cv=2, n_jobs=2,
                                           random_state=1, progress=True).fit(X, y)
    assert "10/10" in capsys.readouterr().err  # 5 candidates x 2 folds
    assert plain.cv_results_["params"] == barred.cv_results_["params"]
    np.testing.assert_array_equal(plain.cv_results_["mean_test_score"], barred.cv_results_["mean_test_score"])
    table = sk.ranked_table(barred).splitlines()
    assert table[0].split()[:2] == ["rank", "accuracy"] and len(table) == 6
    best = barred.cv_results_["mean_test_score"].max()
    assert table[1].startswith("1 ") and f"{best:.4f}" in table[1]


def test_pipeline_halving_and_parameter_counts(sk, digits, tmp_path):
    pytest.importorskip("matplotlib")
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = digits
    pipe = make_pipeline(StandardScaler(), tiny(sk))
    scores = cross_val_score(pipe, X, y, cv=3, n_jobs=-1)
    assert scores.shape == (3,) and scores.min() > 0.3
    halving = HalvingRandomSearchCV(pipe, {"convnetclassifier__filters": [2, 4, 8],
                                           "convnetclassifier__units": [8, 16, 32]},
                                    resource="convnetclassifier__epochs", min_resources=1,
                                    max_resources=4, factor=2, cv=2, random_state=0).fit(X, y)
    assert halving.n_resources_ == [1, 2, 4]
    assert halving.best_estimator_[-1].n_iter_ == 4
    search = sk.ProgressRandomizedSearchCV(
        pipe, {"convnetclassifier__filters": [2, 8]}, n_iter=2, cv=2, progress=False,
        scoring={"accuracy": "accuracy", "parameters": sk.count_parameters}, refit="accuracy",
        return_train_score=True, random_state=0).fit(X, y)
    for params, count in zip(search.cv_results_["params"], search.cv_results_["mean_test_parameters"]):
        f = params["convnetclassifier__filters"]
        assert count == (9 * f + f) + (f * 16 * 16 + 16) + (16 * 10 + 10)  # conv, dense, output
    import matplotlib.pyplot as plt
    plt.close(sk.plot_search(search, tmp_path / "scores.png"))
    plt.close(sk.plot_history(search.best_estimator_, tmp_path / "history.png"))
    assert (tmp_path / "scores.png").stat().st_size > 5000 and (tmp_path / "history.png").exists()


def _threads_in_a_fit(n_jobs_outer):
    """Run in a joblib worker: the kernel threads a default (threads=None) fit sees."""
    from convcore.sklearn import ConvNetClassifier
    seen = []

    def spy(num_classes, in_channels):
        seen.append(convcore.get_num_threads())
        return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    rng = np.random.default_rng(0)
    ConvNetClassifier(module=spy, input_shape=(1, 8, 8), epochs=1).fit(
        rng.random((20, 64)), np.arange(20) % 2)
    return seen[0]


def test_pool_workers_use_cores_over_workers_threads(sk):
    """joblib's process pool gives each worker cores // workers kernel threads (1 with n_jobs=-1)."""
    import joblib
    cores = joblib.cpu_count()
    for n_jobs in (-1, 2):
        workers = cores if n_jobs == -1 else n_jobs
        seen = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_threads_in_a_fit)(n_jobs) for _ in range(2))
        assert seen == [max(1, cores // workers)] * 2


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("sklearn")
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        yield cluster


def test_search_on_a_dask_cluster_equals_the_local_search(sk, digits, cluster):
    """The same RandomizedSearchCV through joblib's dask backend on a real 2-process LocalCluster:
    the same candidates, scores and best network as the local search with the same random_state."""
    import joblib
    from distributed import Client
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV
    X, y = digits
    space = {"filters": [2, 4, 8], "pooling": ["max", "avg", None], "learning_rate": loguniform(1e-3, 1e-1)}
    local = RandomizedSearchCV(tiny(sk), space, n_iter=4, cv=3, random_state=0).fit(X, y)
    with Client(cluster) as client:
        threads = client.run(convcore.get_num_threads)  # dask's nanny sets OMP_NUM_THREADS=1
        assert len(threads) == 2 and set(threads.values()) == {1}
        with joblib.parallel_config(backend="dask"):
            remote = RandomizedSearchCV(tiny(sk), space, n_iter=4, cv=3, random_state=0).fit(X, y)
    assert local.cv_results_["params"] == remote.cv_results_["params"]
    np.testing.assert_array_equal(local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(local.cv_results_["split2_test_score"], remote.cv_results_["split2_test_score"])
    np.testing.assert_array_equal(local.predict_proba(X), remote.predict_proba(X))


def test_cli_search_locally_and_on_the_cluster(sk, cluster, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from convcore.cli import main
    args = ["search", "--dataset", "digits", "--n-iter", "2", "--cv", "2", "--epochs", "1",
            "--n-jobs", "1", "--no-progress"]
    assert main(args + ["--output", str(tmp_path / "local")]) == 0
    local = capsys.readouterr().out
    assert main(args + ["--output", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    remote = capsys.readouterr().out
    assert "rank  accuracy (mean +- std)  fit time (s)  parameters" in local
    assert f"on the dask cluster at {cluster.scheduler_address}" in remote

    def ranked(text):  # the table without its fit-time column
        rows = [line.split() for line in text.splitlines() if line[:1].isdigit() and "+-" in line]
        return [r[:4] + r[6:] for r in rows]

    assert len(ranked(local)) == 2 and ranked(local) == ranked(remote)
    for run in ("local", "dask"):
        for name in ("results.txt", "best_model.npz", "search_scores.png", "best_history.png"):
            assert (tmp_path / run / name).exists()
    model = convcore.load(tmp_path / "local" / "best_model.npz")
    X, y = convcore.datasets.load_digits()
    held_out = [line for line in local.splitlines() if "held-out accuracy" in line][0]
    accuracy = float(held_out.split("held-out accuracy ")[1].split()[0])
    assert accuracy > 0.3  # one epoch; chance is 0.1
    assert model.predict(X[:5]).shape == (5,)


@pytest.mark.parametrize("flag, value, message", [("--cv", "1", "cv must be >= 2"),
                                                  ("--n-iter", "0", "n-iter must be positive"),
                                                  ("--n-jobs", "0", "n-jobs must be")])
def test_cli_search_refuses_bad_options(sk, flag, value, message, capsys):
    from convcore.cli import main
    assert main(["search", flag, value]) == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""


def test_example_runs_and_saves_the_best_network(sk, tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path
    pytest.importorskip("matplotlib")
    path = Path(__file__).resolve().parent.parent / "examples" / "choosing_an_architecture.py"
    if not path.exists():
        pytest.skip("examples/ is not shipped with the installed package")
    monkeypatch.setattr(sys, "argv", [str(path), "--events", "160", "--n-iter", "2", "--cv", "2",
                                      "--epochs", "1", "--n-jobs", "1", "--output", str(tmp_path)])
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "mean validation accuracy by answer" in out and "Total params" in out
    assert "same predictions: True" in out
    assert (tmp_path / "best_model.npz").exists() and (tmp_path / "search_scores.png").exists()


def test_without_scikit_learn_the_cli_still_runs(tmp_path):
    """convcore's command line imports every subcommand's module: without scikit-learn, `info`
    still works and `search` says what to install."""
    import subprocess
    import sys
    from pathlib import Path
    script = tmp_path / "no_sklearn.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'sklearn':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from convcore.cli import main\n"
        "import convcore.sklearn\n"
        "assert main(['info']) == 0\n"
        "assert main(['search']) == 2\n"
        "try:\n"
        "    convcore.sklearn.ConvNetClassifier\n"
        "except ImportError as exc:\n"
        "    print('refused:', exc)\n")
    root = Path(convcore.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'convcore search: error: needs scikit-learn: pip install "convcore[ml]"' in done.stderr
    assert 'refused: convcore.sklearn.ConvNetClassifier needs scikit-learn' in done.stdout

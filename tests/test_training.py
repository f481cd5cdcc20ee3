"""convcore.training: fit/evaluate/predict/summary, callbacks, reproducibility, divergence errors."""
import numpy as np
import pytest

from convcore import losses, nn, optim, training


def blobs(n=240, seed=0):
    """Three Gaussian blobs in 2-D (separable), float32 inputs and int labels."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, n)
    X = (centres[y] + rng.standard_normal((n, 2))).astype(np.float32)
    return X, y


def mlp(seed=0, out=3):
    nn.init.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, out))


def test_small_network_learns_within_bounded_steps():
    """60 Adam steps (6 epochs x 10 batches) reach 95% training and held-out accuracy."""
    X, y = blobs(240)
    Xt, yt = blobs(200, seed=1)
    model = mlp()
    hist = model.fit(X, y, epochs=6, batch_size=24, seed=0, verbose=0, lr=0.02,
                     validation_data=(Xt, yt))
    assert hist.history["accuracy"][-1] >= 0.95
    assert hist.history["val_accuracy"][-1] >= 0.95
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert sorted(hist.history) == ["accuracy", "loss", "lr", "time", "val_accuracy", "val_loss"]
    assert hist.epoch == [1, 2, 3, 4, 5, 6]
    assert not model.training


def test_small_cnn_learns_bars():
    """A conv net tells vertical from horizontal bars (100% held out) within 40 steps."""
    rng = np.random.default_rng(0)

    def bars(n):
        y = rng.integers(0, 2, n)
        X = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
        pos = rng.integers(1, 7, n)
        for i in range(n):
            if y[i]:
                X[i, 0, :, pos[i]] += 2
            else:
                X[i, 0, pos[i], :] += 2
        return X, y

    X, y = bars(160)
    Xt, yt = bars(100)
    nn.init.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 2))
    model.fit(X, y, epochs=4, batch_size=16, seed=0, verbose=0, lr=0.01)
    assert model.evaluate(Xt, yt)["accuracy"] == 1.0


def test_fit_is_reproducible_with_seed():
    X, y = blobs(120)
    a, b = mlp(3), mlp(3)
    ha = a.fit(X, y, epochs=2, batch_size=16, seed=7, verbose=0)
    hb = b.fit(X, y, epochs=2, batch_size=16, seed=7, verbose=0)
    assert ha.history["loss"] == hb.history["loss"]
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_fit_matches_a_manual_loop():
    """One epoch of fit without shuffling equals forward/backward/step written out by hand."""
    X, y = blobs(40)
    a, b = mlp(1), mlp(1)
    a.fit(X, y, epochs=1, batch_size=10, shuffle=False, verbose=0, optimizer=optim.SGD(a, lr=0.1))
    opt, loss = optim.SGD(b, lr=0.1), losses.CrossEntropyLoss()
    for i in range(0, 40, 10):
        b.zero_grad()
        loss(b(X[i:i + 10]), y[i:i + 10])
        b.backward(loss.backward())
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=1e-6)


def test_predict_evaluate_proba():
    X, y = blobs(90)
    model = mlp()
    model.fit(X, y, epochs=3, batch_size=30, verbose=0, lr=0.05, seed=0)
    proba = model.predict_proba(X, batch_size=7)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(X, batch_size=7), proba.argmax(axis=1))
    result = model.evaluate(X, y)
    assert result["accuracy"] == pytest.approx(np.mean(model.predict(X) == y))
    assert set(result) == {"loss", "accuracy"}


def test_binary_and_regression_tasks():
    X, y = blobs(120)
    yb = (y == 0).astype(np.float32)
    model = mlp(out=1)
    hist = model.fit(X, yb[:, None], epochs=5, batch_size=20, verbose=0, lr=0.05, seed=0,
                     loss=losses.BCEWithLogitsLoss())
    assert hist.history["accuracy"][-1] > 0.9
    assert model.predict(X).shape == (120,)
    proba = model.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_array_equal(model.predict(X), (proba[:, 1] > 0.5).astype(int))
    reg = mlp(out=1)
    target = (X[:, :1] * 2).astype(np.float32)
    hist = reg.fit(X, target, epochs=3, batch_size=20, verbose=0, seed=0)
    assert "accuracy" not in hist.history and isinstance(reg.__dict__["_loss"], losses.MSELoss)
    assert reg.predict(X).shape == (120, 1)


def test_early_stopping_and_restore(tmp_path):
    X, y = blobs(60)
    model = mlp()
    stop = training.EarlyStopping(monitor="loss", patience=1, min_delta=10.0,
                                  restore_best_weights=True)
    hist = model.fit(X, y, epochs=20, batch_size=20, verbose=0, callbacks=[stop], seed=0)
    assert len(hist.epoch) == 3 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    with pytest.raises(ValueError, match="monitors 'val_loss', which is not among"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[training.EarlyStopping()])


def test_model_checkpoint_saves_best(tmp_path):
    X, y = blobs(60)
    model = mlp()
    path = tmp_path / "best-{epoch}.npz"
    ckpt = training.ModelCheckpoint(str(path), monitor="val_accuracy")
    model.fit(X, y, epochs=3, batch_size=20, verbose=0, callbacks=[ckpt], seed=0, lr=0.05,
              validation_data=(X, y))
    assert ckpt.saved and all((tmp_path / p.rsplit("/", 1)[1]).exists() for p in ckpt.saved)
    from convcore.io import load
    best = load(ckpt.saved[-1])
    assert best.evaluate(X, y)["accuracy"] == pytest.approx(ckpt.best)


def test_nan_loss_is_a_clear_error():
    X, y = blobs(40)
    model = mlp()
    with pytest.raises(FloatingPointError, match=r"loss became (nan|inf) at epoch 1, batch \d+"):
        model.fit(X * 1e30, y, epochs=2, batch_size=10, verbose=0, lr=1e30,
                  optimizer="sgd")


def test_progress_output(capsys):
    X, y = blobs(40)
    model = mlp()
    model.fit(X, y, epochs=2, batch_size=20, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 2/2 - loss" in out and "accuracy" in out
    pytest.importorskip("tqdm")
    model.fit(X, y, epochs=1, batch_size=20, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "loss=" in err


def test_summary_table():
    nn.init.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Sequential(nn.MaxPool2d(2), nn.Flatten()), nn.Linear(128, 10))
    model[0].trainable = False
    text = model.summary((1, 8, 8))
    assert "3.1 (Flatten)" in text and "(None, 128)" in text
    assert "Total params: 1,386" in text and "Non-trainable params: 80" in text
    with pytest.raises(ValueError, match="input_shape is required"):
        nn.Sequential(nn.Linear(2, 2)).summary()


def test_first_layer_input_gradient_skipped_then_restored():
    X = np.zeros((4, 1, 5, 5), np.float32)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2))
    model.fit(X, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    assert model[0].need_input_grad


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"epochs": 0}, ValueError, "epochs must be positive, got 0"),
    ({"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
    ({"verbose": 3, "seed": 0}, ValueError, "verbose must be 0, 1 or 2"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer must be an Optimizer or one of"),
    ({"validation_data": [1, 2, 3]}, ValueError, r"validation_data must be a pair"),
    ({"callbacks": [print]}, TypeError, "callbacks must be Callback instances"),
])
def test_fit_errors(kwargs, exc, match):
    X, y = blobs(10)
    kwargs.setdefault("verbose", 0)
    with pytest.raises(exc, match=match):
        mlp().fit(X, y, **kwargs)


def test_data_errors():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="y must have 10 rows"):
        mlp().fit(X, y[:5], verbose=0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        mlp().fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        mlp().fit(X, y + 0.5, verbose=0, loss="cross_entropy")
    with pytest.raises(TypeError, match="model must be a convcore.nn.Module"):
        training.fit("model", X, y)


def _bench():
    import importlib.util
    import sys
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_digits.py"
    sys.path.insert(0, str(path.parent))  # the script imports its sibling _timing.py
    spec = importlib.util.spec_from_file_location("bench_digits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_twins_agree():
    """bench_digits.py compares like with like: the PyTorch twin computes the same function from
    the same weights, and the replayed shuffles are the ones fit(seed=) draws."""
    torch = pytest.importorskip("torch")
    bench = _bench()
    model = bench.build_model(0)
    twin = bench.torch_twin(torch, model)
    X = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(model(X), twin(torch.from_numpy(X)).numpy(), rtol=1e-4, atol=1e-5)
    orders = bench.epoch_orders(7, 2, seed=3)
    rng = np.random.default_rng(3)
    for order in orders:
        np.testing.assert_array_equal(order, rng.permutation(7))

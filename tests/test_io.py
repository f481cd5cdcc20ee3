"""convcore.io: exact round trips, atomic writes, refusal of corrupt/tampered/foreign files."""
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import convcore
from convcore import nn
from convcore.io import load, save


def build():
    nn.init.manual_seed(0)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                               nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.GELU())),
                               nn.Concat(nn.MaxPool2d(2), nn.AvgPool2d(2)), nn.Dropout(0.2)),
        flat=nn.Flatten(),
        fc=nn.Linear(128, 3, dtype=np.float32)))


@pytest.fixture
def saved(tmp_path):
    model = build()
    X = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    model.fit(X, np.arange(16) % 3, epochs=1, batch_size=8, verbose=0, seed=0)
    model.features[0].trainable = False
    path = tmp_path / "model.npz"
    model.save(path)
    return model, path, X


def test_exact_round_trip(saved):
    model, path, X = saved
    again = convcore.load(path)
    assert repr(again) == repr(model)
    a, b = model.state_dict(), again.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert not again.features[0].trainable and again.fc.trainable
    assert again.summary() == model.summary()


def test_float64_model_and_overwrite(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.Tanh())
    path = tmp_path / "m.npz"
    save(model, path)
    save(model, path)  # overwriting is atomic and leaves no temporary file behind
    assert os.listdir(tmp_path) == ["m.npz"]
    again = load(path)
    assert again[0].weight.data.dtype == np.float64
    np.testing.assert_array_equal(again[0].weight.data, model[0].weight.data)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model = nn.Sequential(nn.Linear(3, 2))
    save(model, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save(nn.Sequential(nn.Linear(5, 5)), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


def _rewrite(path, change):
    """Rewrite the archive with `change(dict of arrays)` applied, keeping the stored header."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_tampered_arrays_refused(saved):
    _, path, _ = saved

    def change(arrays):
        arrays["fc.weight"] = arrays["fc.weight"] * 2

    _rewrite(path, change)
    with pytest.raises(ValueError, match=f"{path.name} is not a valid convcore model file: checksum mismatch"):
        load(path)


def test_tampered_architecture_refused(saved):
    _, path, _ = saved

    def change(arrays):
        header = json.loads(bytes(arrays["__convcore__"]).decode())
        header["architecture"]["config"]["layers"][2][1]["config"]["bias"] = False
        arrays["__convcore__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)

    _rewrite(path, change)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load(path)


def test_truncated_file_refused(saved):
    _, path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{path.name} is not a valid convcore model file: unreadable"):
        load(path)


def _zip_without_header(fh):
    with zipfile.ZipFile(fh, "w") as z:
        z.writestr("x.txt", "x")


@pytest.mark.parametrize("writer, match", [
    (lambda fh: np.savez(fh, weights=np.zeros(3)), "no '__convcore__' entry"),
    (lambda fh: np.save(fh, np.zeros(3)), "not an .npz archive"),
    (lambda fh: fh.write(b"hello, not a model"), "unreadable"),
    (_zip_without_header, "no '__convcore__' entry"),
])
def test_foreign_files_refused(tmp_path, writer, match):
    path = tmp_path / "foreign.npz"
    with open(path, "wb") as fh:
        writer(fh)
    with pytest.raises(ValueError, match=match):
        load(path)


def test_other_format_refused(saved):
    _, path, _ = saved

    def change(arrays):
        arrays["__convcore__"] = np.frombuffer(json.dumps({"format": "other"}).encode(), np.uint8)

    _rewrite(path, change)
    with pytest.raises(ValueError, match="unknown format"):
        load(path)


def test_missing_file_and_bad_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load(tmp_path / "nope.npz")
    with pytest.raises(TypeError, match="model must be a convcore.nn.Module"):
        save("model", tmp_path / "x.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_save_replaces_only_a_regular_file(tmp_path):
    # os.replace would put the model in the place of a pipe (or a device: /dev/full as root) or
    # fail on a directory after writing the temporary file; both are refused before any write
    model = nn.Sequential(nn.Linear(2, 1))
    pipe, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(pipe)
    folder.mkdir()
    for path in (pipe, folder):
        with pytest.raises(ValueError, match="exists and is not a regular file"):
            save(model, path)
    assert (tmp_path / "pipe").is_fifo() and folder.is_dir() and not any(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]  # no temporary left
    link = tmp_path / "link.npz"   # a link to a model file is replaced by the new file
    save(model, tmp_path / "target.npz")
    link.symlink_to(tmp_path / "target.npz")
    save(model, link)
    assert link.is_file() and not link.is_symlink()


class Scaled(nn.Module):
    """A user-defined layer holding a child module: registered by name, rebuilt from its config."""

    def __init__(self, inner, factor=2.0):
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, x):
        return self.factor * self.inner.forward(x)

    def backward(self, grad_output):
        return self.inner.backward(self.factor * grad_output)

    def get_config(self):
        return {"inner": nn.serialize(self.inner), "factor": self.factor}

    @classmethod
    def from_config(cls, config):
        return cls(nn.deserialize(config["inner"]), config["factor"])


def test_user_defined_layer_round_trip(tmp_path):
    model = nn.Sequential(Scaled(nn.Linear(3, 2), 0.5), nn.ReLU())
    model.save(tmp_path / "custom.npz")
    again = load(tmp_path / "custom.npz")
    assert isinstance(again[0], Scaled) and again[0].factor == 0.5
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again(x), model(x))

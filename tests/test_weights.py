"""The weights reader: PyTorch state-dict files read without torch and without running pickled
code, .npz files, and the files it must refuse. The files are made by tests/data/make_weights.py."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from convcore.models import read_state_dict

DATA = os.path.join(os.path.dirname(__file__), "data")


def data(name):
    return os.path.join(DATA, name)


def test_torch_file_equals_its_npz_reference():
    ours = read_state_dict(data("tiny_state_dict.pt"))
    reference = read_state_dict(data("tiny_state_dict.npz"))
    assert list(ours) == list(reference)
    for key, ref in reference.items():
        assert ours[key].dtype == ref.dtype and ours[key].shape == ref.shape, key
        np.testing.assert_array_equal(ours[key], ref)
    assert ours["1.num_batches_tracked"].dtype == np.int64 and ours["1.num_batches_tracked"] == 1
    assert ours["extra.half"].dtype == np.float16
    np.testing.assert_array_equal(ours["extra.transposed"], np.arange(12.0).reshape(3, 4).T)


def test_every_storage_type_view_scalar_and_empty_tensor_of_a_committed_torch_file():
    """views_state_dict.pt: torch.save of every integer width, bool, float16/32/64, views into one
    shared storage (an offset, strides, a transpose), 0-d scalars, empty tensors, a Parameter."""
    ours = read_state_dict(data("views_state_dict.pt"))
    reference = read_state_dict(data("views_state_dict.npz"))
    assert list(ours) == list(reference)
    for key, ref in reference.items():
        assert ours[key].dtype == ref.dtype and ours[key].shape == ref.shape, key
        np.testing.assert_array_equal(ours[key], ref, err_msg=key)
    # the views, independently of NumPy's writer: one storage 0.25, 0.5, ..., 6.0
    base = np.arange(1, 25, dtype=np.float32) / 4
    np.testing.assert_array_equal(ours["whole"], base)
    np.testing.assert_array_equal(ours["offset"], base[5:11].reshape(2, 3))
    np.testing.assert_array_equal(ours["strided"], base.reshape(4, 6)[1:, ::2])
    np.testing.assert_array_equal(ours["transposed"], base[2:14].reshape(3, 4).T)
    np.testing.assert_array_equal(ours["int_offset"], np.arange(3, 7, dtype=np.int32))
    expected = {"bool": (np.bool_, [True, False, True]), "uint8": (np.uint8, [0, 7, 255]),
                "int8": (np.int8, [-128, -3, 127]), "int16": (np.int16, [[-32768, 5], [300, 32767]]),
                "int32": (np.int32, [-2 ** 31, 12345, 2 ** 31 - 1]),
                "int64": (np.int64, [-2 ** 40, 2 ** 62]), "float16": (np.float16, [0.5, -2, 65504]),
                "float64": (np.float64, [[1e-300, -3.5]]), "scalar": (np.float32, 3.25),
                "int_scalar": (np.int64, -7), "bool_scalar": (np.bool_, True),
                "empty": (np.float32, np.zeros((0, 3))), "empty_int": (np.int16, np.zeros((2, 0))),
                "param": (np.float32, [[1.5, 1.5], [1.5, 1.5]])}
    for key, (dtype, values) in expected.items():
        values = np.asarray(values)
        assert ours[key].dtype == dtype and ours[key].shape == values.shape, key
        np.testing.assert_array_equal(ours[key], values, err_msg=key)


def test_bfloat16_file_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="BFloat16Storage tensors, which have no NumPy type"):
        read_state_dict(data("bfloat16.pt"))


def test_refuses_a_pickle_that_would_call_a_function(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    with pytest.raises(ValueError, match=r"refusing to load posix\.system|refusing to load os\.system"):
        read_state_dict(data("malicious.pt"))
    assert calls == []


def test_refuses_a_truncated_file():
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_state_dict(data("truncated.pt"))


def _archive(tmp_path, payload, storages=()):
    path = tmp_path / "made.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        for key, raw in storages:
            z.writestr(f"archive/data/{key}", raw)
    return path


def test_refuses_an_archive_that_is_not_a_state_dict(tmp_path):
    with pytest.raises(ValueError, match="holds a list, not a state dict"):
        read_state_dict(_archive(tmp_path, pickle.dumps([1, 2])))
    with pytest.raises(ValueError, match="entry 'w' is a str, not a tensor"):
        read_state_dict(_archive(tmp_path, pickle.dumps({"w": "text"})))
    with pytest.raises(ValueError, match="refusing to load builtins.eval"):
        read_state_dict(_archive(tmp_path, b"cbuiltins\neval\n(S'1'\ntR."))


def test_refuses_a_tensor_that_reads_past_its_storage(tmp_path):
    # {'w': _rebuild_tensor_v2(storage of 2 floats, offset 0, size (4,), stride (1,), ...)}
    payload = (b"\x80\x02}q\x00X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n"
               b"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ"
               b"K\x00K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.")
    path = _archive(tmp_path, payload, [("0", np.zeros(2, np.float32).tobytes())])
    with pytest.raises(ValueError, match="reads past its storage"):
        read_state_dict(path)


@pytest.mark.parametrize("content, match", [
    (b"", "neither a PyTorch zip file nor an .npz"),
    (b"hello, not weights", "neither a PyTorch zip file nor an .npz"),
    (b"PK\x03\x04garbage", "not a valid zip archive"),
])
def test_refuses_files_that_are_not_weights(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_state_dict(path)


def test_missing_file():
    with pytest.raises(ValueError, match="does not exist"):
        read_state_dict(data("no_such_file.pt"))


def test_genuine_torch_save_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    state = {"a": torch.randn(3, 4, dtype=torch.float64), "b": torch.arange(5),
             "c": torch.randn(2, 3, 4)[:, 1], "d": torch.tensor([True, False])}
    torch.save(state, tmp_path / "s.pt")
    ours = read_state_dict(tmp_path / "s.pt")
    for key, value in state.items():
        np.testing.assert_array_equal(ours[key], value.numpy())
        assert ours[key].dtype == value.numpy().dtype


def test_genuine_torch_save_of_every_integer_width_views_and_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float32)
    state = {"u8": torch.arange(10, dtype=torch.uint8), "i8": torch.tensor([-4], dtype=torch.int8),
             "i16": torch.tensor([3], dtype=torch.int16), "i32": torch.tensor([-1, 2], dtype=torch.int32),
             "offset": base[2:8].view(2, 3), "strided": base.view(4, 6)[:, 1::2],  # one storage
             "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3),
             "param": torch.nn.Parameter(torch.ones(2, 2))}
    torch.save(state, tmp_path / "s.pt")
    ours = read_state_dict(tmp_path / "s.pt")
    assert list(ours) == list(state)
    for key, value in state.items():
        ref = value.detach().numpy()
        assert ours[key].dtype == ref.dtype and ours[key].shape == ref.shape, key
        np.testing.assert_array_equal(ours[key], ref, err_msg=key)


def test_bfloat16_is_refused_with_the_reason(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"a": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="BFloat16Storage tensors, which have no NumPy type"):
        read_state_dict(tmp_path / "b.pt")

"""Read and write model weights: PyTorch state-dict files without torch, and ``.npz`` files.

A file written by ``torch.save(model.state_dict(), path)`` is a zip archive holding a pickle
(``data.pkl``) and one raw little- or big-endian buffer per tensor storage (``data/<key>``).
Unpickling runs whatever functions the pickle names, so the reader here never uses ``pickle``'s
default lookup: a restricted unpickler accepts only the few names a state dict needs — ordered
dicts, the tensor and parameter rebuild functions, and the storage types — each mapped to a
NumPy implementation, and refuses anything else with a ``ValueError`` before it could run.
"""
import collections
import io
import os
import pickle
import tempfile
import zipfile

import numpy as np

__all__ = ["load_weights", "read_state_dict", "save_weights"]

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands for ``torch.<Name>Storage`` inside the pickle: only its dtype matters."""

    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, copied out, in bounds."""
    if not isinstance(storage, np.ndarray):
        raise ValueError("a tensor in the file does not refer to a storage")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or offset < 0:
        raise ValueError(f"a tensor in the file has an invalid layout (size {size}, stride {stride})")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise ValueError(f"a tensor in the file reads past its storage ({last} >= {storage.size})")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride])
    return np.array(view)


def _rebuild_parameter(data, requires_grad, backward_hooks, *_ignored):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, archive, prefix, byteorder):
        super().__init__(file)
        self._archive, self._prefix, self._byteorder = archive, prefix, byteorder

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name.endswith("Storage"):
            raise ValueError(f"the file holds {name} tensors, which have no NumPy type: convert "
                             f"them before saving (e.g. tensor.float())")
        raise ValueError(f"refusing to load {module}.{name}: a weights file may only hold tensors, "
                         f"ordered dicts and plain values")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ValueError(f"unsupported storage reference in the file: {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        try:
            raw = self._archive.read(f"{self._prefix}data/{key}")
        except KeyError:
            raise ValueError(f"the file lacks the storage data/{key}") from None
        dtype = storage_type.dtype.newbyteorder("<" if self._byteorder == "little" else ">")
        if len(raw) < int(numel) * dtype.itemsize:
            raise ValueError(f"storage data/{key} is truncated")
        return np.frombuffer(raw, dtype=dtype, count=int(numel)).astype(dtype.newbyteorder("="))


def _read_torch_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a PyTorch zip file (torch.save) nor a valid .npz: it "
                         f"may be truncated or corrupt") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path} is a zip file but not a PyTorch state dict (no data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        try:
            byteorder = archive.read(prefix + "byteorder").decode().strip()
        except KeyError:
            byteorder = "little"
        try:
            payload = archive.read(pickles[0])
            state = _RestrictedUnpickler(io.BytesIO(payload), archive, prefix, byteorder).load()
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, TypeError, AttributeError,
                IndexError, KeyError, OSError) as exc:
            raise ValueError(f"{path} is corrupt: {exc}") from None
    return state


def read_state_dict(path):
    """Read the arrays of a weights file into an ordered dict of NumPy arrays.

    Parameters
    ----------
    path : str or path-like
        A PyTorch state dict saved with ``torch.save(model.state_dict(), path)`` (zip format,
        read without importing torch and without running any pickled code), or an ``.npz`` file.

    Returns
    -------
    collections.OrderedDict of str to ndarray

    Raises
    ------
    ValueError
        For a missing, truncated or corrupt file, or one whose pickle names anything besides
        tensors, ordered dicts and plain values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights file {path!r} does not exist")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise ValueError(f"{path} is neither a PyTorch zip file nor an .npz file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a valid zip archive: it may be truncated or corrupt") from None
    if names and all(n.endswith(".npy") for n in names):
        try:
            with np.load(path, allow_pickle=False) as npz:
                return collections.OrderedDict((k, npz[k]) for k in npz.files)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path} is a corrupt .npz file: {exc}") from None
    state = _read_torch_zip(path)
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict")
    out = collections.OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: state-dict keys must be strings, got {key!r}")
        if isinstance(value, np.ndarray):
            out[key] = value
        elif isinstance(value, (int, float, bool)):
            out[key] = np.asarray(value)
        else:
            raise ValueError(f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor")
    return out


def load_weights(model, path, strict=True):
    """Load a weights file into a model, checking names and shapes.

    Parameters
    ----------
    model : convcore.nn.Module
    path : str or path-like
        See :func:`read_state_dict`.
    strict : bool
        Require the file's names to be exactly the model's; otherwise load the names both have.

    Returns
    -------
    model : the same model, for chaining.

    Raises
    ------
    ValueError
        Listing the names that are missing, unexpected or of the wrong shape.
    """
    model.load_state_dict(read_state_dict(path), strict=strict)
    return model


def save_weights(model, path):
    """Write a model's state dict (parameters and buffers, PyTorch names) to an ``.npz`` file.

    The file is written beside its destination and moved into place, so a crash never leaves a
    half-written file at `path`.
    """
    path = os.fspath(path)
    state = model.state_dict()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in state.items()})
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path

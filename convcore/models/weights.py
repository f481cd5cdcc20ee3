"""Read and write model weights: PyTorch state-dict files without torch, and ``.npz`` files.

A file written by ``torch.save(model.state_dict(), path)`` is a zip archive holding a pickle
(``data.pkl``) and one raw little- or big-endian buffer per tensor storage (``data/<key>``).
Files written before PyTorch 1.6 (or with ``_use_new_zipfile_serialization=False``; some of
torchvision's published weights) are a sequence instead: a magic number, a version and the system
information as three plain pickles, the state dict's pickle, the list of storage keys, then each
storage as its element count (8 bytes) followed by its raw data.
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


class _LegacyStorage:
    """A storage of a pre-1.6 file, named in the pickle before its data follows it."""

    def __init__(self, key, dtype, numel, view):
        self.key, self.dtype, self.numel, self.view = key, dtype, numel, view


class _PendingTensor:
    """A tensor of a pre-1.6 file: built once the storages it views have been read."""

    def __init__(self, storage, args):
        self.storage, self.args = storage, args

    def build(self, arrays):
        if not isinstance(self.storage, _LegacyStorage):
            raise ValueError("a tensor in the file does not refer to a storage")
        data = arrays[self.storage.key]
        if self.storage.view is not None:
            offset, size = (int(v) for v in self.storage.view[1:3])
            data = data[offset:offset + size]
        return _rebuild_tensor(data, *self.args)


class _PlainUnpickler(pickle.Unpickler):
    """For the plain values around a pre-1.6 file's state dict: names nothing, loads nothing."""

    def find_class(self, module, name):
        raise ValueError(f"refusing to load {module}.{name}: a weights file may only hold "
                         f"tensors, ordered dicts and plain values")

    def persistent_load(self, pid):
        raise ValueError("unexpected storage reference in the file")


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, archive, prefix, byteorder):
        """``archive`` None: a pre-1.6 file, whose storages follow the pickle."""
        super().__init__(file)
        self._archive, self._prefix, self._byteorder = archive, prefix, byteorder
        self.storages = {}

    def find_class(self, module, name):
        if self._archive is None and module == "torch._utils" and name.startswith("_rebuild_tensor"):
            return lambda storage, *args: _PendingTensor(storage, args)
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
        if self._archive is None:
            return self._legacy_storage(pid)
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

    def _legacy_storage(self, pid):
        # ('storage', type, key, location, numel, view) with view None or (key, offset, numel)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)):
            raise ValueError(f"unsupported storage reference in the file: {pid!r:.80}")
        _, storage_type, key, _location, numel, view = pid
        if view is not None and not (isinstance(view, tuple) and len(view) == 3):
            raise ValueError(f"unsupported storage view in the file: {view!r:.80}")
        self.storages[key] = (storage_type.dtype, int(numel))
        return _LegacyStorage(key, storage_type.dtype, int(numel), view)


_LEGACY_MAGIC, _LEGACY_VERSION = 0x1950A86A20F9469CFC6C, 1001


def _read_torch_legacy(path):
    """A pre-1.6 ``torch.save`` file (see the module's docstring)."""
    with open(path, "rb") as f:
        try:
            if _PlainUnpickler(f).load() != _LEGACY_MAGIC:
                raise ValueError(f"{path} is not a PyTorch file (wrong magic number)")
            version = _PlainUnpickler(f).load()
            if version != _LEGACY_VERSION:
                raise ValueError(f"{path}: unsupported PyTorch file version {version!r}")
            info = _PlainUnpickler(f).load()
            byteorder = "little" if not isinstance(info, dict) or info.get("little_endian", True) \
                else "big"
            unpickler = _RestrictedUnpickler(f, None, None, byteorder)
            state = unpickler.load()
            keys = _PlainUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError,
                KeyError) as exc:
            raise ValueError(f"{path} is corrupt: {exc}") from None
        if not isinstance(keys, list) or set(keys) != set(unpickler.storages):
            raise ValueError(f"{path} is corrupt: its storage list does not match its tensors")
        arrays = {}
        for key in keys:
            dtype, numel = unpickler.storages[key]
            dtype = dtype.newbyteorder("<" if byteorder == "little" else ">")
            count = int.from_bytes(f.read(8), byteorder)
            raw = f.read(count * dtype.itemsize)
            if count != numel or len(raw) != count * dtype.itemsize:
                raise ValueError(f"{path} is truncated or corrupt (storage {key})")
            arrays[key] = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
    if isinstance(state, dict):
        for name, value in state.items():
            if isinstance(value, _PendingTensor):
                state[name] = value.build(arrays)
    return state


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
        A PyTorch state dict saved with ``torch.save(model.state_dict(), path)`` (the zip format,
        or the format before PyTorch 1.6; read without importing torch and without running any
        pickled code), or an ``.npz`` file.

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
    if magic[:1] == b"\x80":                  # a pickle protocol mark: a pre-1.6 PyTorch file
        return _state_dict_arrays(path, _read_torch_legacy(path))
    if magic != b"PK\x03\x04":
        raise ValueError(f"{path} is neither a PyTorch zip file nor an .npz file (nor a pre-1.6 "
                         f"PyTorch file)")
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
    return _state_dict_arrays(path, _read_torch_zip(path))


def _state_dict_arrays(path, state):
    """Check that an unpickled object is a state dict of arrays and plain numbers."""
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

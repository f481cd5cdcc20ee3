"""Model files: one ``.npz`` holding every parameter and buffer plus a JSON description.

``save(model, path)`` (also ``model.save(path)``) writes the arrays of ``model.state_dict()`` and an
entry ``__convcore__``: UTF-8 JSON with the format name and version, the architecture from
``get_config()`` (nested containers included), the trainable flags, the training task and a SHA-256
checksum of the architecture and of every array (name, dtype, shape and bytes). The file is written
to a temporary file in the same directory and moved into place with ``os.replace``, so a crash never
leaves a half-written model behind. ``load(path)`` (also ``convcore.load``) reads it with
``allow_pickle=False`` (loading never runs code), checks the checksum and rebuilds the model; a
corrupt, truncated, tampered or foreign file raises ValueError naming the path.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from convcore import nn
>>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> model.save(path)
>>> again = load(path)
>>> bool(np.array_equal(again[0].weight.data, model[0].weight.data))
True
"""
import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .nn._module import Module, deserialize, serialize

__all__ = ["save", "load"]

_KEY = "__convcore__"
_FORMAT = "convcore-model"
_VERSION = 1


def _checksum(architecture, arrays):
    h = hashlib.sha256()
    h.update(json.dumps(architecture, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(model, path):
    """Write ``model`` (architecture and arrays) to ``path`` atomically; see the module doc."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a convcore.nn.Module, got {type(model).__name__}")
    path = os.fspath(path)
    if os.path.lexists(path) and not os.path.isfile(path):   # os.replace would put the file
        # in the place of a directory's entry, a device, a pipe or a socket
        raise ValueError(f"path {path!s} exists and is not a regular file")
    arrays = model.state_dict()
    if _KEY in arrays:
        raise ValueError(f"a parameter or buffer may not be called {_KEY!r}")
    architecture = serialize(model)
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "architecture": architecture,
        "frozen": [name for name, p in model.named_parameters() if not p.trainable],
        "task": model.__dict__.get("_task"),
        "input_shape": model.__dict__.get("_input_shape"),
    }
    header["checksum"] = _checksum({k: v for k, v in header.items()}, arrays)
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{_KEY: blob}, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _refuse(path, why):
    return ValueError(f"{path!s} is not a valid convcore model file: {why}")


def load(path):
    """Rebuild the model saved at ``path`` by :func:`save` (checksum verified, no pickle)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise _refuse(path, "not an .npz archive")
            with data:
                if _KEY not in data.files:
                    raise _refuse(path, f"no {_KEY!r} entry (not written by convcore)")
                header = json.loads(bytes(data[_KEY]).decode("utf-8"))
                arrays = {name: data[name] for name in data.files if name != _KEY}
    except ValueError as exc:
        if str(exc).startswith(f"{path!s} is not"):
            raise
        raise _refuse(path, f"unreadable ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise _refuse(path, f"unreadable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise _refuse(path, "unknown format")
    if header.get("version") != _VERSION:
        raise _refuse(path, f"unsupported version {header.get('version')!r}")
    stored = header.pop("checksum", None)
    if stored != _checksum(header, arrays):
        raise _refuse(path, "checksum mismatch (the file is corrupt or was modified)")
    try:
        model = deserialize(header["architecture"])
        model.load_state_dict(arrays, strict=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise _refuse(path, f"architecture and arrays do not match ({exc})") from exc
    frozen = set(header.get("frozen") or [])
    for name, p in model.named_parameters():
        p.trainable = name not in frozen
    if header.get("task"):
        model._task = header["task"]
    if header.get("input_shape"):
        model._input_shape = tuple(header["input_shape"])
    model.eval()
    return model

"""Make the weight files that tests/test_weights.py reads (run from the repository root):

    python tests/data/make_weights.py

Needs torch (``pip install torch``) for the genuine ``torch.save`` file; writes:

- ``tiny_state_dict.pt``: torch.save of the state dict of a small Conv2d-BatchNorm2d-Linear net
  (float32 weights, int64 num_batches_tracked, one float64 and one float16 extra tensor and a
  non-contiguous (transposed) tensor);
- ``tiny_state_dict.npz``: the same arrays as .npz, the reference the reader must reproduce;
- ``malicious.pt``: a valid PyTorch-style archive whose pickle calls ``os.system`` when unpickled
  the ordinary way (the reader must refuse it without running it);
- ``truncated.pt``: the first half of ``tiny_state_dict.pt``;
- ``views_state_dict.pt``: every storage type the reader maps (bool, uint8, int8/16/32/64,
  float16/32/64), views into one shared storage at an offset and with strides, 0-d scalars, empty
  tensors and a Parameter; ``views_state_dict.npz`` holds the same arrays as NumPy wrote them;
- ``bfloat16.pt``: a bfloat16 tensor (no NumPy type: the reader must refuse it with the reason).
- ``tiny_state_dict_legacy.pt``: the same state dict in PyTorch's format before 1.6 (a sequence of
  pickles followed by the raw storages, ``_use_new_zipfile_serialization=False``), in which some
  of torchvision's published weight files are written.
"""
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_state_dict():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(8, 3))
    net.train()
    net(torch.randn(4, 1, 4, 4))  # moves the running statistics and num_batches_tracked
    state = net.state_dict()
    state["extra.double"] = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    state["extra.half"] = torch.tensor([0.5, -2.0, 3.25], dtype=torch.float16)
    state["extra.transposed"] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    return state


def views_state_dict():
    base = torch.arange(1, 25, dtype=torch.float32) / 4  # one storage shared by four tensors
    return OrderedDict([
        ("bool", torch.tensor([True, False, True])),
        ("uint8", torch.tensor([0, 7, 255], dtype=torch.uint8)),
        ("int8", torch.tensor([-128, -3, 127], dtype=torch.int8)),
        ("int16", torch.tensor([[-32768, 5], [300, 32767]], dtype=torch.int16)),
        ("int32", torch.tensor([-(2 ** 31), 12345, 2 ** 31 - 1], dtype=torch.int32)),
        ("int64", torch.tensor([-(2 ** 40), 2 ** 62], dtype=torch.int64)),
        ("float16", torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)),
        ("float64", torch.tensor([[1e-300, -3.5]], dtype=torch.float64)),
        ("whole", base),
        ("offset", base[5:11].view(2, 3)),                # storage offset 5
        ("strided", base.view(4, 6)[1:, ::2]),           # offset 6, strides (6, 2)
        ("transposed", base[2:14].view(3, 4).t()),       # offset 2, strides (1, 4)
        ("int_offset", torch.arange(10, dtype=torch.int32)[3:7]),
        ("scalar", torch.tensor(3.25)),
        ("int_scalar", torch.tensor(-7, dtype=torch.int64)),
        ("bool_scalar", torch.tensor(True)),
        ("empty", torch.zeros(0, 3)),
        ("empty_int", torch.zeros(2, 0, dtype=torch.int16)),
        ("param", torch.nn.Parameter(torch.full((2, 2), 1.5))),
    ])


class _Evil:
    def __reduce__(self):
        return os.system, ("echo pwned > /dev/null",)


def main():
    state = tiny_state_dict()
    torch.save(state, os.path.join(HERE, "tiny_state_dict.pt"))
    np.savez(os.path.join(HERE, "tiny_state_dict.npz"),
             **{k: v.detach().numpy() for k, v in state.items()})
    payload = pickle.dumps(OrderedDict(weight=_Evil()), protocol=2)
    with zipfile.ZipFile(os.path.join(HERE, "malicious.pt"), "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    views = views_state_dict()
    torch.save(views, os.path.join(HERE, "views_state_dict.pt"))
    np.savez(os.path.join(HERE, "views_state_dict.npz"),
             **{k: v.detach().numpy() for k, v in views.items()})
    torch.save({"weight": torch.ones(2, dtype=torch.bfloat16)}, os.path.join(HERE, "bfloat16.pt"))
    with open(os.path.join(HERE, "tiny_state_dict.pt"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])


def legacy():
    torch.save(tiny_state_dict(), os.path.join(HERE, "tiny_state_dict_legacy.pt"),
               _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
    legacy()

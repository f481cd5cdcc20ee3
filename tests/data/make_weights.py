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

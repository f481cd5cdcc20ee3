"""Every network of the model zoo against PyTorch's outputs and gradients, without torch: the
reference (tests/data/zoo_reference.npz) is made by tests/data/make_zoo_reference.py with torch as
the independent implementation; both sides fill every weight from its name alone (``fill`` there),
so no weight file is needed. Evaluation mode, float64 (the reference is float64 rounded to
float32); the networks are built one at a time."""
import importlib.util
import os

import numpy as np
import pytest

from convcore import models

DATA = os.path.join(os.path.dirname(__file__), "data")


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_zoo_reference", os.path.join(DATA, "make_zoo_reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.fixture(scope="module")
def reference():
    with np.load(os.path.join(DATA, "zoo_reference.npz")) as z:
        return {k: z[k] for k in z.files}


def assert_close(ours, theirs, rel, what):
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    err = np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-30)
    assert err <= rel, f"{what}: relative error {err:.2e} > {rel}"


@pytest.mark.parametrize("name", sorted(GEN.INPUTS))
def test_outputs_and_gradients_equal_pytorch(reference, name):
    channels = GEN.INPUTS[name][0]
    model = getattr(models, name)(num_classes=GEN.NUM_CLASSES, in_channels=channels,
                                  dtype=np.float64)
    model.load_state_dict(GEN.filled(model.state_dict()))
    model.eval()
    ref = {k[len(name) + 1:]: v for k, v in reference.items() if k.startswith(name + "/")}
    y = model(ref["x"].astype(np.float64))
    assert y.dtype == np.float64
    assert_close(y, ref["y"], 1e-6, "eval output")
    model.zero_grad()
    assert_close(model.backward(ref["r"].astype(np.float64)), ref["gx"], 1e-6, "input gradient")
    params = dict(model.named_parameters())
    grads = [k[len("grad/"):] for k in ref if k.startswith("grad/")]
    assert len(grads) >= 3
    for pname in grads:
        assert_close(params[pname].grad, ref["grad/" + pname], 1e-6, pname)
    model.zero_grad()


def test_fill_depends_on_the_name_only():
    a = GEN.fill("layer1.0.conv1.weight", (4, 3, 3, 3), np.float32)
    np.testing.assert_array_equal(a, GEN.fill("layer1.0.conv1.weight", (4, 3, 3, 3), np.float32))
    assert not np.array_equal(a, GEN.fill("layer1.0.conv2.weight", (4, 3, 3, 3), np.float32))
    assert GEN.fill("bn.running_var", (5,), np.float32).min() >= 0.5

"""Published weights by name: the builders' state dicts have torchvision's names, order and shapes
(tests/data/torchvision_state_dicts.json, dumped from torchvision's own models), a file with them
loads strictly, ``weights=`` downloads from a local server and loads, GoogLeNet's auxiliary heads
and input transform behave as torchvision's, and the preprocessing matches torchvision's and
Pillow's resize."""
import hashlib
import json
import os

import numpy as np
import pytest

from convcore import models, nn
from convcore.models import InceptionAux, Weights, get_weights, list_weights
from convcore.models.pretrained import ImageClassification

from test_hub import server  # noqa: F401  (the local HTTP server fixture)

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "torchvision_state_dicts.json")) as f:
    TORCHVISION = json.load(f)["models"]
HEADS = ("fc.", "classifier.6.", "aux1.fc2.", "aux2.fc2.")


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    from convcore import _threads
    monkeypatch.setattr(_threads, "_setting", 1)


def torchvision_shapes(arch, num_classes):
    """The fixture's names and shapes, with the output layers resized to ``num_classes``."""
    out = []
    for key, shape in TORCHVISION[arch].items():
        if key.startswith(HEADS) and shape and shape[0] == 1000:
            shape = [num_classes] + shape[1:]
        out.append((key, tuple(shape)))
    return out


@pytest.mark.parametrize("arch", sorted(TORCHVISION))
def test_state_dict_names_order_and_shapes_are_torchvisions(arch):
    kwargs = {"aux_logits": True} if arch == "googlenet" else {}
    model = getattr(models, arch)(num_classes=10, **kwargs)
    ours = [(k, tuple(np.shape(v))) for k, v in model.state_dict().items()]
    assert ours == torchvision_shapes(arch, 10)


def zeros_state(arch, num_classes=1000, seed=0):
    """A state dict of torchvision's names and shapes: zeros, except random values in the small
    tensors (biases, batch-norm parameters) so that loading is visible."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in torchvision_shapes(arch, num_classes):
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(7, dtype=np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2, shape).astype(np.float32)
        elif len(shape) == 1:
            state[key] = rng.standard_normal(shape).astype(np.float32)
        else:
            state[key] = np.zeros(shape, dtype=np.float32)
    return state


def test_googlenet_loads_the_published_layout_strictly_only_with_its_aux_heads():
    state = zeros_state("googlenet")
    models.googlenet(aux_logits=True).load_state_dict(state)
    with pytest.raises(ValueError, match="unexpected keys: aux1.conv.conv.weight"):
        models.googlenet().load_state_dict(state)


def publish(server, arch, state):  # noqa: F811
    """Serve ``state`` as a compressed .npz and return a Weights entry pointing at it."""
    path = os.path.join(os.environ["CONVCORE_HOME"] + "-files", f"{arch}-test.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **state)
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    name = f"{arch}-{digest[:8]}.npz"
    server.files[name] = data
    return Weights(arch, "TEST", name, {"acc@1": 0.0}, sha256=digest)


def test_resnet18_by_name_downloads_checks_and_loads(server):  # noqa: F811
    state = zeros_state("resnet18")
    entry = publish(server, "resnet18", state)
    model = models.resnet18(weights=entry)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    # all convolutions are zero: the logits are fc.bias whatever the image
    x = entry.transforms()(np.full((40, 50, 3), 200, np.uint8))[None]
    np.testing.assert_allclose(model.eval()(x)[0], state["fc.bias"], rtol=1e-6)
    assert len(server.requests) == 1
    models.resnet18(weights=entry)          # cached
    assert len(server.requests) == 1


def test_googlenet_by_name_drops_its_aux_heads_and_transforms_its_input(server):  # noqa: F811
    state = zeros_state("googlenet")
    entry = publish(server, "googlenet", state)
    model = models.googlenet(weights=entry)
    assert model.transform_input and not model.aux_logits
    assert model.aux1 is None and model.aux2 is None
    assert not any(k.startswith("aux") for k in model.state_dict())
    np.testing.assert_array_equal(model.fc.bias.data, state["fc.bias"])
    kept = models.googlenet(weights=entry, aux_logits=True, transform_input=False)
    assert kept.aux_logits and not kept.transform_input
    np.testing.assert_array_equal(kept.aux2.fc2.bias.data, state["aux2.fc2.bias"])
    assert set(kept.state_dict()) == set(state)


def test_weights_argument_errors(server):  # noqa: F811
    with pytest.raises(ValueError, match=r"weights IMAGENET1K_V1 are for 1000 classes .* "
                                         r"got num_classes=10"):
        models.resnet18(num_classes=10, weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="in_channels=1"):
        models.vgg11(in_channels=1, weights="DEFAULT")
    with pytest.raises(ValueError, match=r"unknown weights 'IMAGENET1K_V2' for resnet34; "
                                         r"published: IMAGENET1K_V1 \(or 'DEFAULT'\)"):
        models.resnet34(weights="IMAGENET1K_V2")
    with pytest.raises(ValueError, match="weights are for resnet18, not resnet34"):
        models.resnet34(weights=get_weights("resnet18", "DEFAULT"))
    with pytest.raises(TypeError, match="weights must be a name"):
        models.alexnet(weights=1)
    with pytest.raises(ValueError, match="no published weights for 'lenet5'"):
        get_weights("lenet5", "DEFAULT")
    assert server.requests == []


def test_published_table_and_offline_error(server, monkeypatch):  # noqa: F811
    assert list_weights() == {a: ["IMAGENET1K_V1"] for a in
                              ("alexnet", "vgg11", "vgg16", "resnet18", "resnet34", "googlenet")}
    assert list_weights("googlenet") == ["IMAGENET1K_V1"]
    for arch in list_weights():
        entry = get_weights(arch, "DEFAULT")
        stem = entry.filename[:-len(".pth")]
        assert entry.filename.endswith(".pth") and len(stem.rsplit("-", 1)[1]) == 8
        assert entry.url(server.url) == server.url + entry.filename
        assert entry.num_classes == 1000 and entry.accuracy["acc@1"] > 50
    categories = get_weights("resnet18", "DEFAULT").categories
    assert len(set(categories)) == 1000 and categories[281] == "tabby"
    monkeypatch.setenv("CONVCORE_WEIGHTS_URL", "http://127.0.0.1:9")
    with pytest.raises(OSError, match=r"http://127.0.0.1:9/resnet18-f37072fd.pth .* put it at "
                                      r".*weights.resnet18-f37072fd.pth"):
        models.resnet18(weights="IMAGENET1K_V1")


def test_transforms_match_torchvision_and_pillow():
    ref = np.load(os.path.join(DATA, "torchvision_transform.npz"))
    t = ImageClassification(crop_size=24, resize_size=30)
    out = t(ref["image"])
    assert out.shape == (3, 24, 24) and out.dtype == np.float32
    # torchvision rounds the resized image to uint8: within one grey level of it
    one_level = 1 / 255 / 0.224
    assert np.abs(out - ref["tensor_in"]).max() <= one_level
    assert np.abs(out - ref["pil_in"]).max() <= one_level
    np.testing.assert_allclose(t(ref["image"] / 255.0), out, atol=1e-5)
    Image = pytest.importorskip("PIL.Image")
    plane = ref["image"][:, :, 1].astype(np.float32)
    resized = np.asarray(Image.fromarray(plane).resize((40, 30), Image.BILINEAR))
    top, left = 3, 8
    expected = (resized[top:top + 24, left:left + 24] / 255 - 0.456) / 0.224
    np.testing.assert_allclose(out[1], expected, atol=1e-5)
    np.testing.assert_allclose(t(Image.fromarray(ref["image"])), out, atol=1e-6)


def test_transforms_accept_grey_and_rgba_and_refuse_other_shapes():
    t = get_weights("alexnet", "DEFAULT").transforms()
    grey = np.random.default_rng(0).integers(0, 256, (256, 300), dtype=np.uint8)
    out = t(grey)
    assert out.shape == (3, 224, 224)
    np.testing.assert_allclose(out[0] * 0.229 + 0.485, out[2] * 0.225 + 0.406, atol=1e-5)
    rgba = np.dstack([grey] * 4)
    np.testing.assert_array_equal(t(rgba), out)
    with pytest.raises(ValueError, match=r"image must be an \(H, W\), \(H, W, 3\) or \(H, W, 4\) "
                                         r"array, got shape \(2, 5, 5, 3\)"):
        t(np.zeros((2, 5, 5, 3)))
    with pytest.raises(TypeError, match="image must hold numbers"):
        t(np.array([["a"]]))
    with pytest.raises(ValueError, match="resize_size 100 is smaller than crop_size 224"):
        ImageClassification(resize_size=100)(grey)


def test_transform_input_is_the_per_channel_affine_map_and_its_gradient():
    nn.init.manual_seed(0)
    plain = models.googlenet(num_classes=5, transform_input=False).eval()
    moved = models.googlenet(num_classes=5, transform_input=True).eval()
    moved.load_state_dict(plain.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    # ImageNet-normalised in, [-1, 1]-scaled out: (x * std + mean - 0.5) / 0.5
    scaled = ((x * std[:, None, None] + mean[:, None, None] - 0.5) / 0.5).astype(np.float32)
    np.testing.assert_allclose(moved(x), plain(scaled), rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(2).standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(moved.backward(g), plain.backward(g) * (std / 0.5)[:, None, None],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="transform_input needs in_channels=3, got 1"):
        models.googlenet(in_channels=1, transform_input=True)
    config = moved.get_config()
    assert config["transform_input"] and not config["aux_logits"]


def test_inception_aux_against_its_formula_and_numerical_gradients():
    from gradcheck import numerical_grad
    nn.init.manual_seed(0)
    head = InceptionAux(2, 3, dtype=np.float64).eval()
    rng = np.random.default_rng(0)
    head.conv.bn.running_mean[:] = rng.standard_normal(128)
    x = rng.standard_normal((2, 2, 8, 8))
    pooled = x.reshape(2, 2, 4, 2, 4, 2).mean(axis=(3, 5))
    bn = head.conv.bn
    h = np.einsum("oc,nchw->nohw", head.conv.conv.weight.data[:, :, 0, 0], pooled)
    h = (h - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-3)
    h = np.maximum(h * bn.weight.data[:, None, None] + bn.bias.data[:, None, None], 0)
    h = np.maximum(h.reshape(2, -1) @ head.fc1.weight.data.T + head.fc1.bias.data, 0)
    expected = h @ head.fc2.weight.data.T + head.fc2.bias.data
    np.testing.assert_allclose(head(x), expected, rtol=1e-10)
    r = rng.standard_normal((2, 3))
    head(x)
    gx = head.backward(r)
    part = x[:1]                     # the first image's gradient, numerically
    num = numerical_grad(lambda: float((head(np.concatenate([part, x[1:]])) * r).sum()), part)
    np.testing.assert_allclose(gx[:1], num, rtol=1e-5, atol=1e-7)
    assert head.output_shape((2, 2, 8, 8)) == (2, 3)


EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "classify_photo.py")


@pytest.fixture
def example():
    if not os.path.exists(EXAMPLE):
        pytest.skip("examples/ is not shipped with the installed package")
    import runpy
    return runpy.run_path(EXAMPLE, run_name="classify_photo")


def test_classify_photo_example_with_a_tiny_weight_file(server, example):  # noqa: F811
    state = zeros_state("resnet18")
    state["fc.bias"] = np.zeros(1000, np.float32)
    state["fc.bias"][[281, 285, 7]] = [5.0, 4.0, 1.0]     # tabby, Egyptian cat, cock
    entry = publish(server, "resnet18", state)
    photo = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    ranking = example["classify"](photo, weights=entry, top=3, progress=False)
    assert [name for name, _ in ranking] == ["tabby", "Egyptian cat", "cock"]
    e = np.exp([5.0, 4.0, 1.0])
    expected = e / (e.sum() + 997)
    np.testing.assert_allclose([p for _, p in ranking], expected, rtol=1e-6)


def test_classify_photo_example_offline_names_the_file_to_fetch(server, example, tmp_path,
                                                               monkeypatch, capsys):  # noqa: F811
    Image = pytest.importorskip("PIL.Image")
    path = str(tmp_path / "photo.png")
    Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(path)
    with pytest.raises(SystemExit) as info:
        example["main"]([path])
    message = str(info.value)
    assert f"{server.url}resnet18-f37072fd.pth" in message and "HTTP 404" in message
    assert os.path.join("weights", "resnet18-f37072fd.pth") in message


def test_pre_zip_pytorch_files_read_like_zip_files():
    """Some of torchvision's published files predate PyTorch 1.6's zip format."""
    from convcore.models import read_state_dict
    legacy = read_state_dict(os.path.join(DATA, "tiny_state_dict_legacy.pt"))
    reference = read_state_dict(os.path.join(DATA, "tiny_state_dict.npz"))
    assert list(legacy) == list(reference)
    for key, ref in reference.items():
        assert legacy[key].dtype == ref.dtype and legacy[key].shape == ref.shape, key
        np.testing.assert_array_equal(legacy[key], ref)


def test_pre_zip_files_that_are_cut_short_or_name_code_are_refused(tmp_path):
    import pickle
    from convcore.models import read_state_dict
    with open(os.path.join(DATA, "tiny_state_dict_legacy.pt"), "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_state_dict(cut)
    cut.write_bytes(data[:len(data) // 3])
    with pytest.raises(ValueError, match="corrupt"):
        read_state_dict(cut)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
                     + pickle.dumps(1001, protocol=2) + pickle.dumps({}, protocol=2)
                     + b"\x80\x02cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(ValueError, match="refusing to load os.system"):
        read_state_dict(evil)

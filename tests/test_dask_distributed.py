"""convcore on a real dask.distributed cluster: two worker processes of one thread each.

The filters computed there equal the in-memory convcore result bit for bit; networks run per
chunk of the batch with the model shipped once (one task every chunk depends on).
"""
import re

import numpy as np
import pytest

from convcore import filters, ndimage, nn, signal
from convcore import functional as F


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", memory_limit="1GiB") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def da():
    return pytest.importorskip("dask.array")


def _image(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 250, shape).astype(dtype)


def test_filters_on_the_cluster(client, da):
    x = _image((70, 90))
    xi = _image((70, 90), np.uint8)
    vol = _image((20, 24, 18))
    d, di = da.from_array(x, chunks=(16, 25)), da.from_array(xi, chunks=(33, 17))
    dv = da.from_array(vol, chunks=(7, 10, 6))
    jobs = [
        (ndimage.gaussian_filter(d, 2.0, mode="wrap"),
         ndimage.gaussian_filter(x, 2.0, mode="wrap")),
        (ndimage.sobel(di, axis=0, mode="constant", cval=3),
         ndimage.sobel(xi, axis=0, mode="constant", cval=3)),
        (ndimage.correlate(d, np.arange(15.0).reshape(3, 5), mode="mirror", origin=(1, -1)),
         ndimage.correlate(x, np.arange(15.0).reshape(3, 5), mode="mirror", origin=(1, -1))),
        (ndimage.gaussian_laplace(dv, 1.5, mode="grid-wrap"),
         ndimage.gaussian_laplace(vol, 1.5, mode="grid-wrap")),
        (ndimage.uniform_filter(di, 5, output=np.int32),
         ndimage.uniform_filter(xi, 5, output=np.int32)),
        (signal.convolve2d(d, np.ones((3, 4)), mode="full", boundary="symm", stride=(2, 3)),
         signal.convolve2d(x, np.ones((3, 4)), mode="full", boundary="symm", stride=(2, 3))),
        (signal.correlate(dv, _image((3, 2, 4), seed=1), mode="valid", method="direct"),
         signal.correlate(vol, _image((3, 2, 4), seed=1), mode="valid", method="direct")),
        (filters.apply(di, filters.sobel_x(), boundary="wrap"),
         filters.apply(xi, filters.sobel_x(), boundary="wrap")),
    ]
    results = client.compute([lazy for lazy, _ in jobs], sync=True)
    for got, (_, expected) in zip(results, jobs):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_3d_gaussian_with_edges_per_face_on_the_cluster(client, da, monkeypatch):
    """Edges heavy enough to travel a piece per face (SPLIT_BYTES lowered to this small volume)
    and a Gaussian that runs pass by pass on each chunk: on the cluster, the in-memory result."""
    from convcore._dask import _halo

    monkeypatch.setattr(_halo, "SPLIT_BYTES", 1000)
    vol = _image((24, 30, 28), np.float32)
    for kw in (dict(sigma=1.5, mode="mirror"), dict(sigma=(2.0, 0.0, 1.0), mode="wrap")):
        lazy = ndimage.gaussian_filter(da.from_array(vol, chunks=(8, 15, 14)), **kw)
        pieces = {k[0].split("-edges-")[1].split("-", 1)[1]
                  for k in dict(lazy.__dask_graph__()) if "-edges-" in k[0]}
        assert "corners" in pieces and "all" not in pieces
        np.testing.assert_array_equal(client.compute(lazy, sync=True),
                                      ndimage.gaussian_filter(vol, **kw))


def test_same_graph_on_the_threaded_scheduler(da):
    x = _image((40, 30))
    lazy = ndimage.gaussian_gradient_magnitude(da.from_array(x, chunks=(9, 7)), 1.2)
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"),
                                  ndimage.gaussian_gradient_magnitude(x, 1.2))


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(256, 3))
    net.fit(X, y, epochs=1, verbose=0)
    return net


def _model_tasks(lazy, model):
    """How many tasks of the graph hold the model itself (not a reference to its key)."""
    count = 0
    for task in dict(lazy.__dask_graph__()).values():
        value = getattr(task, "value", task)
        if value is model:
            count += 1
    return count


def test_networks_on_the_cluster(client, da, model):
    X = np.random.default_rng(1).random((90, 1, 8, 8)).astype(np.float32)
    d = da.from_array(X, chunks=(16, 1, 8, 8))
    labels, proba = model.predict(d), model.predict_proba(d)
    assert isinstance(labels, da.Array) and labels.chunks == (d.chunks[0],)
    assert proba.chunks == (d.chunks[0], (3,)) and proba.dtype == np.float32
    assert _model_tasks(labels, model) == 1      # shipped once, not once per chunk (6 chunks)
    got_labels, got_proba = client.compute([labels, proba], sync=True)
    np.testing.assert_array_equal(got_labels, model.predict(X))
    np.testing.assert_allclose(got_proba, model.predict_proba(X), rtol=1e-5, atol=1e-6)
    w = np.random.default_rng(2).random((5, 1, 3, 3)).astype(np.float32)
    out = F.conv2d(d, w, stride=2, padding=1)
    assert out.chunks == (d.chunks[0], (5,), (4,), (4,))
    np.testing.assert_array_equal(client.compute(out, sync=True),
                                  F.conv2d(X, w, stride=2, padding=1))


class CountedLoads(nn.Sequential):
    """A Sequential that counts, in each process, how many times a copy of it was unpickled."""

    loads = 0

    def __setstate__(self, state):
        type(self).loads += 1
        self.__dict__.update(state)


def _loads():
    return CountedLoads.loads


def test_model_is_unpickled_once_per_worker(client, da):
    """Twelve chunks on two workers: each worker unpickles the model once (the chunk tasks share
    it), not once per chunk; the predictions are the in-memory ones."""
    rng = np.random.default_rng(3)
    net = CountedLoads(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3))
    net.fit(rng.random((12, 1, 8, 8), dtype=np.float32), rng.integers(0, 3, 12), epochs=1,
            verbose=0)
    X = rng.random((96, 1, 8, 8), dtype=np.float32)
    before = client.run(_loads)
    got = client.compute(net.predict(da.from_array(X, chunks=(8, 1, 8, 8))), sync=True)
    loads = {w: n - before[w] for w, n in client.run(_loads).items()}
    assert 1 <= sum(loads.values()) <= 2 and max(loads.values()) == 1, loads
    np.testing.assert_array_equal(got, net.predict(X))


def test_network_errors_are_eager(da, model):
    d = da.zeros((10, 1, 7, 8), chunks=(5, 1, 7, 8), dtype=np.float32)
    with pytest.raises(ValueError) as expected:
        model.predict(np.zeros((10, 1, 7, 8), np.float32))
    # checked on one sample of the batch, so the message shows that sample's shape
    with pytest.raises(ValueError, match=re.escape(str(expected.value).split("(10,")[0])):
        model.predict(d)
    with pytest.raises(ValueError):
        F.conv2d(d, np.zeros((2, 3, 3, 3), np.float32))   # channels do not match

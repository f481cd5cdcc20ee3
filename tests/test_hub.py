"""Weight files by name: downloads from a real HTTP server on 127.0.0.1 (run in a thread; never the
internet), checksums, interrupted transfers resumed or restarted, the cache, two processes at once,
and the offline error. The server is pointed at through CONVCORE_WEIGHTS_URL, the cache through
CONVCORE_HOME (set for the test only)."""
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import convcore
from convcore.models import _hub


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range`` when ``server.ranges``; cuts the next
    ``server.cut`` responses off halfway; sleeps ``server.delay`` between 16 kB chunks."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404)
            return
        start, header = 0, self.headers.get("Range")
        if header and srv.ranges:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut > 0:
            srv.cut -= 1
            body = body[:len(body) // 2]
        for i in range(0, len(body), 16384):
            self.wfile.write(body[i:i + 16384])
            time.sleep(srv.delay)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.ranges, srv.cut, srv.delay = {}, [], True, 0, 0.0
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CONVCORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CONVCORE_WEIGHTS_URL", srv.url)
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def blob(n=100_000, seed=0):
    data = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    return data, hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_download_checks_caches_and_then_needs_no_network(server, tmp_path, monkeypatch):
    data, digest = blob()
    server.files["net-0000.bin"] = data
    path = _hub.fetch("net-0000.bin", digest)
    assert path == os.path.join(str(tmp_path / "home"), "weights", "net-0000.bin")
    assert read(path) == data
    assert sorted(os.listdir(os.path.dirname(path))) == ["net-0000.bin", "net-0000.bin.lock"]
    # cache hit: the server is not asked again, even when the address leads nowhere
    monkeypatch.setenv("CONVCORE_WEIGHTS_URL", "http://127.0.0.1:9/")
    assert _hub.fetch("net-0000.bin", digest) == path
    assert len(server.requests) == 1


def test_the_file_name_prefix_is_checked_when_no_full_digest_is_known(server, tmp_path):
    data, digest = blob()
    server.files[f"net-{digest[:8]}.pth"] = data
    path = _hub.fetch(f"net-{digest[:8]}.pth")
    assert read(path) == data
    wrong = "0" * 8 if digest[:8] != "0" * 8 else "1" * 8
    server.files[f"net-{wrong}.pth"] = data
    with pytest.raises(ValueError, match=f"expected a digest starting with {wrong}: deleted"):
        _hub.fetch(f"net-{wrong}.pth")
    assert not os.path.exists(os.path.join(_hub.cache_dir(), f"net-{wrong}.pth"))
    with pytest.raises(ValueError, match="carries no SHA-256 prefix"):
        _hub.fetch("net.pth")


def test_checksum_mismatch_is_refused_and_the_partial_file_removed(server):
    data, digest = blob()
    server.files["net-0000.bin"] = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ValueError, match=f"has SHA-256 [0-9a-f]{{64}}, expected {digest}"):
        _hub.fetch("net-0000.bin", digest)
    assert sorted(os.listdir(_hub.cache_dir())) == ["net-0000.bin.lock"]


def test_an_interrupted_download_resumes_with_a_range_request(server):
    data, digest = blob(300_000)
    server.files["net-0000.bin"] = data
    server.cut = 1
    path = _hub.fetch("net-0000.bin", digest)
    assert read(path) == data
    assert server.requests == [("/net-0000.bin", None), ("/net-0000.bin", "bytes=150000-")]


def test_an_interrupted_download_restarts_when_the_server_has_no_ranges(server):
    data, digest = blob(300_000)
    server.files["net-0000.bin"] = data
    server.cut, server.ranges = 1, False
    path = _hub.fetch("net-0000.bin", digest)
    assert read(path) == data
    assert len(server.requests) == 2


def test_a_download_cut_short_every_time_keeps_its_part_for_the_next_call(server):
    data, digest = blob(300_000)
    server.files["net-0000.bin"] = data
    server.cut = 3
    with pytest.raises(OSError, match=r"cut short 3 times; the part received is kept in .*"
                                      r"net-0000\.bin\.part"):
        _hub.fetch("net-0000.bin", digest)
    part = os.path.join(_hub.cache_dir(), "net-0000.bin.part")
    assert 0 < os.path.getsize(part) < len(data)
    have = os.path.getsize(part)
    path = _hub.fetch("net-0000.bin", digest)
    assert read(path) == data and not os.path.exists(part)
    assert server.requests[-1] == ("/net-0000.bin", f"bytes={have}-")


def test_a_stale_part_longer_than_the_file_is_discarded(server):
    data, digest = blob(1000)
    server.files["net-0000.bin"] = data
    os.makedirs(_hub.cache_dir())
    with open(os.path.join(_hub.cache_dir(), "net-0000.bin.part"), "wb") as f:
        f.write(b"x" * 5000)
    assert read(_hub.fetch("net-0000.bin", digest)) == data


def test_offline_the_error_names_the_address_and_where_to_put_the_file(server, monkeypatch):
    monkeypatch.setenv("CONVCORE_WEIGHTS_URL", "http://127.0.0.1:9/models")
    target = os.path.join(_hub.cache_dir(), "net-0000.bin")
    with pytest.raises(OSError) as info:
        _hub.fetch("net-0000.bin", "0" * 64)
    assert "http://127.0.0.1:9/models/net-0000.bin" in str(info.value)
    assert f"put it at {target}" in str(info.value)
    with pytest.raises(OSError, match=r"HTTP 404 .* put it at .*missing-0000\.bin"):
        _hub.fetch("missing-0000.bin", "0" * 64, base_url=server.url)


_CHILD = """
import sys
from convcore.models import _hub
print(_hub.fetch(sys.argv[1], sys.argv[2]))
"""


def test_two_processes_fetching_at_once_leave_one_good_file(server, tmp_path):
    data, digest = blob(400_000)
    server.files["net-0000.bin"] = data
    server.delay = 0.03                      # about 0.75 s per download: the two overlap
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(convcore.__file__)))
    # cwd: away from a source tree, whose uncompiled convcore would shadow the one under test
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, "net-0000.bin", digest], env=env,
                              cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    path = paths.pop()
    assert read(path) == data
    assert sorted(os.listdir(os.path.dirname(path))) == ["net-0000.bin", "net-0000.bin.lock"]
    assert len(server.requests) == 1         # the second process waited and found the file


def test_cache_dir_follows_convcore_home_then_the_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVCORE_HOME", str(tmp_path))
    assert _hub.cache_dir() == os.path.join(str(tmp_path), "weights")
    monkeypatch.delenv("CONVCORE_HOME")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert _hub.cache_dir() == os.path.join(str(tmp_path / "xdg"), "convcore", "weights")
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert _hub.cache_dir() == os.path.expanduser(os.path.join("~", ".cache", "convcore",
                                                                   "weights"))
    monkeypatch.delenv("CONVCORE_WEIGHTS_URL", raising=False)
    assert _hub.weights_url("a-1.pth") == "https://download.pytorch.org/models/a-1.pth"
    assert _hub.weights_url("a-1.pth", "http://mirror/x/") == "http://mirror/x/a-1.pth"

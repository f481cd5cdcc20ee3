"""Download published weight files once, check them and keep them in a cache.

A file is fetched with ``urllib`` into ``<cache>/<name>.part`` while a lock file is held (so two
processes starting at once download it once), hashed as it arrives, checked against the SHA-256
the table gives, and moved into place with ``os.replace``: the cache only ever holds whole, checked
files. A transfer cut short keeps its ``.part`` file, and the next attempt asks the server for the
rest (an HTTP ``Range`` request) or starts over when the server does not offer ranges.
"""
import hashlib
import os
import sys
import urllib.error
import urllib.request

__all__ = ["cache_dir", "weights_url", "fetch"]

#: Where torchvision publishes its weight files; ``CONVCORE_WEIGHTS_URL`` replaces it (a mirror).
DEFAULT_URL = "https://download.pytorch.org/models/"
_CHUNK = 1 << 20
_ATTEMPTS = 3


def cache_dir():
    """The folder weight files are kept in: ``$CONVCORE_HOME/weights``, else the platform's cache
    folder (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows) followed by ``convcore/weights``."""
    home = os.environ.get("CONVCORE_HOME")
    if not home:
        if sys.platform == "win32":
            base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~/AppData/Local")
        elif sys.platform == "darwin":
            base = os.path.expanduser("~/Library/Caches")
        else:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        home = os.path.join(base, "convcore")
    return os.path.join(home, "weights")


def weights_url(filename, base_url=None):
    """The address of a published file: ``base_url``, else ``$CONVCORE_WEIGHTS_URL``, else
    :data:`DEFAULT_URL`, joined with ``filename``."""
    base = base_url or os.environ.get("CONVCORE_WEIGHTS_URL") or DEFAULT_URL
    return base.rstrip("/") + "/" + filename


class _Lock:
    """An exclusive lock on a file, released by the system if the process dies."""

    def __init__(self, path):
        self._file = open(path, "a+b")

    def __enter__(self):
        if sys.platform == "win32":
            import msvcrt
            self._file.seek(0)
            while True:
                try:
                    msvcrt.locking(self._file.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:     # LK_LOCK gives up after ten seconds: keep waiting
                    continue
        else:
            import fcntl
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if sys.platform == "win32":
            import msvcrt
            self._file.seek(0)
            msvcrt.locking(self._file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h


def _transfer(url, part, progress):
    """Append the rest of ``url`` to ``part`` (or rewrite it when the server ignores the range).
    Returns True once the whole file is there, False when the connection was cut short."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        resumed = response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            os.unlink(part)                 # not the range asked for: start again
            return False
        mode = "ab" if resumed else "wb"
        total = response.headers.get("Content-Length")
        total = int(total) + (have if resumed else 0) if total is not None else None
        done = have if resumed else 0
        with open(part, mode) as out:
            while True:
                try:
                    block = response.read(_CHUNK)
                except (OSError, ValueError):   # IncompleteRead, reset connection
                    return False
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress:
                    shown = f"{done / 2**20:.1f} of {total / 2**20:.1f} MB" if total else \
                        f"{done / 2**20:.1f} MB"
                    print(f"\rdownloading {os.path.basename(part[:-5])}: {shown}", end="",
                          file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
    return total is None or done == total


def fetch(filename, sha256=None, base_url=None, progress=False):
    """The local path of a published weight file, downloaded and checked on first use.

    Parameters
    ----------
    filename : str
        The published name, e.g. ``"resnet18-f37072fd.pth"``. By torchvision's convention the
        part after the last ``-`` is the start of the file's SHA-256.
    sha256 : str, optional
        The file's full SHA-256. Without it, the digest must start with the hexadecimal prefix in
        ``filename``.
    base_url : str, optional
        Where to download from; see :func:`weights_url`.
    progress : bool
        Report the download on standard error.

    Returns
    -------
    str
        The path of the checked file in :func:`cache_dir`.

    Raises
    ------
    ValueError
        When the downloaded file's SHA-256 does not match (the file is deleted).
    OSError
        When the file is not cached and cannot be downloaded; the message names the address and
        the path to put the file at by hand.
    """
    stem = os.path.splitext(filename)[0]
    prefix = stem.rsplit("-", 1)[-1].lower() if "-" in stem else ""
    if sha256 is None and not (len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix)):
        raise ValueError(f"filename {filename!r} carries no SHA-256 prefix; give sha256")
    folder = cache_dir()
    path = os.path.join(folder, filename)
    if os.path.isfile(path):
        return path
    url = weights_url(filename, base_url)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the weights cache {folder}: {exc}") from None
    part = path + ".part"
    with _Lock(path + ".lock"):
        if os.path.isfile(path):           # another process finished it while we waited
            return path
        for _ in range(_ATTEMPTS):
            try:
                complete = _transfer(url, part, progress)
            except urllib.error.HTTPError as exc:
                exc.close()                 # the error holds the open response
                if exc.code != 416:         # 416: the part held is not a prefix of the file
                    raise OSError(f"could not download {url}: HTTP {exc.code} {exc.reason}. "
                                  f"Download it by hand and put it at {path}") from None
                os.unlink(part)
                complete = False
            except (urllib.error.URLError, OSError) as exc:
                raise OSError(
                    f"could not download {url} ({getattr(exc, 'reason', exc)}). Without a network, "
                    f"download it elsewhere and put it at {path}") from None
            if complete:
                break
        else:
            raise OSError(f"the download of {url} was cut short {_ATTEMPTS} times; the part "
                          f"received is kept in {part} and the next attempt resumes it")
        got = _digest(part).hexdigest()
        expected = (sha256 or prefix).lower()
        if not got.startswith(expected) or (sha256 and len(got) != len(expected)):
            os.unlink(part)
            raise ValueError(f"the file downloaded from {url} has SHA-256 {got}, expected "
                             f"{'' if sha256 else 'a digest starting with '}{expected}: deleted")
        os.replace(part, path)
    return path

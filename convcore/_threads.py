"""Every thread count of convcore: one setting for every kernel, the rule that gives small calls one
thread, and a guard so the kernels' threads never multiply BLAS threads.

The kernels run their jobs on one pool of helper threads (src/c/cc_pool.h, convcore._kernels.parallel)
and take the thread count as an argument; it is decided here and nowhere else."""
import contextlib
import ctypes
import os
import threading

from ._kernels import parallel as _parallel

_setting = None
_blas_lock = threading.RLock()
_local = threading.local()  # a per-thread override (kernel_threads), e.g. in dask chunk tasks


def set_num_threads(n):
    """Set the number of threads every convcore kernel uses.

    Parameters
    ----------
    n : int or None
        A positive thread count, or None to go back to the default (``OMP_NUM_THREADS`` if set,
        else the cores this process may use).

    Examples
    --------
    >>> import convcore
    >>> convcore.set_num_threads(1)
    >>> convcore.get_num_threads()
    1
    >>> convcore.set_num_threads(None)
    """
    global _setting
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be a positive int or None, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"n must be a positive int or None, got {n}")
    _setting = n


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def get_num_threads():
    """The number of threads the kernels use: the setting, else OMP_NUM_THREADS, else the cores.

    Always 1 when convcore was built without its thread pool (``CONVCORE_NO_POOL``, or a platform
    with neither POSIX threads and GCC/Clang atomics nor Win32 threads).

    Examples
    --------
    >>> import convcore
    >>> convcore.get_num_threads() >= 1
    True
    """
    if not _parallel.pool_built():
        return 1
    if getattr(_local, "n", None) is not None:
        return _local.n
    if _setting is not None:
        return _setting
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return _available_cores()


@contextlib.contextmanager
def kernel_threads(n):
    """Run the block with the kernels of this thread only on `n` threads (None: no change).

    Thread-local, unlike :func:`set_num_threads`: the tasks of dask's threaded scheduler each
    set their own count without touching the process setting or each other.
    """
    before = getattr(_local, "n", None)
    _local.n = n if n is not None else before
    try:
        yield
    finally:
        _local.n = before


def threads_for(work, grain):
    """Threads worth starting for `work` units when each thread should get at least `grain`.

    Waking a second thread costs more than a small kernel's whole run (and on a busy machine a
    scheduler time slice), so small calls run on one thread; large ones on get_num_threads().
    """
    share = int(work) // int(grain)
    if share < 2:  # one thread whatever the setting: skip reading it (a few us per small call)
        return 1
    return min(get_num_threads(), share)


#: kernel calls of less work than this (multiply-adds) run on the calling thread alone: waking a
#: helper costs more than it saves
SERIAL_WORK = 1 << 16


def team_threads(work):
    """Threads for a call of the line kernels (src/lines.pyx and its 2-D siblings) of `work`
    multiply-adds: the caller alone below SERIAL_WORK, else :func:`get_num_threads`."""
    return 1 if work < SERIAL_WORK else get_num_threads()


def _find_openblas():
    """ctypes handles (get, set) of every OpenBLAS in the process, SciPy's first.

    convcore's kernels call SciPy's copy (through scipy.linalg.cython_blas); NumPy's wheels bring a
    second one (``libscipy_openblas64_``) that ``numpy.matmul`` uses. Both have to be held, and
    telling them apart by a name both contain once let the kernels' BLAS run free.
    """
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (makes sure SciPy's BLAS is loaded)

    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    except OSError:  # no /proc (macOS, Windows): threadpoolctl, when installed, knows the paths
        paths = _threadpoolctl_blas_paths()
    scipy_dir = os.path.dirname(os.path.abspath(scipy.__file__))  # its wheel's scipy.libs/ too
    handles = []
    for path in sorted(paths, key=lambda p: (not p.startswith(scipy_dir), p)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        handle = _thread_functions(lib)
        if handle is not None:
            handles.append(handle)
    return handles


def _thread_functions(lib):
    for prefix in ("scipy_openblas_", "openblas_"):
        for suffix in ("64_", ""):
            get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                return get, set_
    return None


def _threadpoolctl_blas_paths():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return set()
    return {pool["filepath"] for pool in threadpool_info()
            if pool.get("internal_api") == "openblas" and pool.get("filepath")}


_openblas = None
_openblas_searched = False


def blas_info():
    """(name, threads) of the BLAS that SciPy provides, as far as it can be seen."""
    handles = _blas_handles()
    if not handles:
        return "unknown", None
    return "OpenBLAS (scipy)", handles[0][0]()


def _blas_handles():
    global _openblas, _openblas_searched
    if not _openblas_searched:
        _openblas = _find_openblas()
        _openblas_searched = True
    return _openblas


class blas_threads:
    """Run the block with every OpenBLAS in the process (SciPy's and NumPy's) limited to ``n``
    threads (a no-op when none can be found).

    Used around kernels that call BLAS from inside their parallel jobs, so that threads never
    multiply (each of the kernels' threads would otherwise wake all of OpenBLAS's). A class,
    not a generator: small layers enter it a dozen times per training step, and the generator's
    machinery cost more than the kernels' BLAS calls it guards.
    """

    __slots__ = ("n", "before")

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        handles = _blas_handles()
        _blas_lock.acquire()
        try:
            self.before = [get() for get, _ in handles]
            for (_, set_), b in zip(handles, self.before):
                if b != self.n:
                    set_(self.n)
        except BaseException:
            _blas_lock.release()
            raise

    def __exit__(self, *exc):
        try:
            for (_, set_), b in zip(_blas_handles(), self.before):
                if b != self.n:
                    set_(b)
        finally:
            _blas_lock.release()


def direct_threads(outputs, taps):
    """Threads for one call of the direct correlation kernel (src/direct.pyx) that computes
    `outputs` values of `taps` products each.

    Below about 20,000 products, waking a helper costs more than the whole call: one thread.
    Above, up to one thread per 256 outputs, at most :func:`get_num_threads`.

    Examples
    --------
    >>> direct_threads(64, 9)
    1
    >>> direct_threads(1024 * 1024, 9) == get_num_threads()
    True
    """
    if outputs * taps <= 20000:
        return 1
    return max(1, min(get_num_threads(), outputs // 256 + 1))

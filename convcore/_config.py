"""What this build of convcore is: versions, thread pool, threads, BLAS, compiler flags."""
import platform
import sys
import sysconfig

import numpy
import scipy

from . import __version__, _cpu
from ._kernels import parallel as _parallel
from ._threads import blas_info, get_num_threads


def config():
    """The build and runtime configuration as a dict (see :func:`show_config`)."""
    blas_name, blas_threads = blas_info()
    try:
        import threadpoolctl

        pools = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
            for info in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        pools = None
    return {
        "convcore": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "thread_pool": _parallel.pool_built(),
        "threads": get_num_threads(),
        "cpu_features": " ".join(_cpu.DETECTED) or "baseline only",
        "cpu_disabled": f"{' '.join(_cpu.DISABLED) or 'none'} ({_cpu.ENV})",
        "cpu_dispatch": _dispatch(),
        "blas": blas_name,
        "blas_threads": blas_threads,
        "threadpools": pools,
        "compiler": sysconfig.get_config_var("CC"),
        "cflags": " ".join(filter(None, [sysconfig.get_config_var("CFLAGS"), *_build_args()])),
    }


def _dispatch():
    """The build each dispatching kernel module runs, e.g. "im2col AVX512F, lines AVX2"."""
    for name in ("im2col", "winograd", "lines", "direct"):
        _cpu.load(name)
    return ", ".join(f"{name} {build}" for name, build in sorted(_cpu.active().items()))


def _build_args():
    """The flags setup.py added for the kernels (-O3, warnings), recorded at build time."""
    try:
        from ._build_info import COMPILE_ARGS
    except ImportError:  # a source tree that was never built
        return []
    return COMPILE_ARGS


def show_config(file=None):
    """Print the build and runtime configuration.

    Examples
    --------
    >>> import convcore
    >>> convcore.show_config()  # doctest: +ELLIPSIS
    convcore ...
    """
    file = sys.stdout if file is None else file
    cfg = config()
    print(f"convcore {cfg['convcore']}", file=file)
    for key in ("python", "platform", "numpy", "scipy", "thread_pool", "threads",
                "cpu_features", "cpu_disabled", "cpu_dispatch", "blas", "blas_threads", "compiler", "cflags"):
        print(f"  {key:<16}{cfg[key]}", file=file)
    if cfg["threadpools"]:
        print("  threadpools (threadpoolctl):", file=file)
        for pool in cfg["threadpools"]:
            print(f"    {pool['internal_api']} {pool['version']}: {pool['num_threads']} threads "
                  f"({pool['filepath']})", file=file)


def add_arguments(parser):
    """The `convcore info` command takes no arguments."""


def run(args):
    show_config()
    return 0

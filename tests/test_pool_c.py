"""The thread pool in plain C, on each platform's threads: tests/c/pool_check.c (every index once,
thread ids in range, 1-4 threads, nested jobs, concurrent callers, many jobs in a row with the
pool's races widened) built with the system's C compiler on POSIX threads, and cross-built with
MinGW and run under Wine on Win32 threads (with GCC's atomics, and with the MSVC branch's, built
by clang); and every header of src/c compiled for Windows.

The Windows tests need ``x86_64-w64-mingw32-gcc``, ``wine`` and ``clang`` (Debian:
gcc-mingw-w64-x86-64, wine64, wine, clang) and skip without them, unless CONVCORE_REQUIRE_WINE=1
(CI installs them). All need the source tree: they skip when the tests run against a wheel."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADERS = ROOT / "src" / "c"
DRIVER = ROOT / "tests" / "c" / "pool_check.c"
FLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{HEADERS}"]
MINGW = "x86_64-w64-mingw32-gcc"
WINDOWS_REQUIRED = os.environ.get("CONVCORE_REQUIRE_WINE") == "1"


def _need(*tools, required=False):
    if not (HEADERS / "cc_pool.h").exists() or not DRIVER.exists():
        pytest.skip("needs the source tree (src/c)")
    missing = ", ".join(t for t in tools if shutil.which(t) is None)
    if missing and required:
        pytest.fail(f"CONVCORE_REQUIRE_WINE=1 but {missing} not found")
    if missing:
        pytest.skip(f"needs {missing}")


def _run(cmd, timeout, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _check_driver(out):
    # CC_POOL=1: the pool was built, not the serial fallback
    assert out.startswith("ok CC_POOL=1 "), out


def test_pool_on_posix_threads(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX only")
    _need("cc")
    exe = tmp_path / "pool_check"
    _run(["cc", *FLAGS, "-o", str(exe), str(DRIVER), "-pthread"], 120)
    _check_driver(_run([str(exe)], 120))


def test_pool_helper_leaves_the_callers_cpu_on_linux(tmp_path):
    # built as Python builds the kernels (_GNU_SOURCE, from Python.h): cc_move_off exists
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs Linux and 2 CPUs")
    _need("cc")
    exe = tmp_path / "pool_check_gnu"
    _run(["cc", *FLAGS, "-D_GNU_SOURCE", "-o", str(exe), str(DRIVER), "-pthread"], 120)
    out = _run([str(exe)], 120)
    _check_driver(out)
    assert " moved=1 " in out, out


@pytest.fixture(scope="module")
def wine_env(tmp_path_factory):
    """Wine's environment with a prefix of its own (created on first use, a few seconds)."""
    prefix = tmp_path_factory.mktemp("wineprefix")
    return dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all")


def test_pool_on_win32_threads_under_wine(tmp_path, wine_env):
    _need(MINGW, "wine", required=WINDOWS_REQUIRED)
    exe = tmp_path / "pool_check.exe"
    _run([MINGW, *FLAGS, "-o", str(exe), str(DRIVER)], 120)
    _check_driver(_run(["wine", str(exe)], 300, env=wine_env))


def test_pool_on_win32_threads_msvc_atomics_under_wine(tmp_path, wine_env):
    # the branch of src/c/cc_threads.h that MSVC compiles, built by clang (tests/c/msvc_branch.h)
    _need("clang", MINGW, "wine", required=WINDOWS_REQUIRED)
    clang = ["clang", "--target=x86_64-w64-mingw32", "-include", str(DRIVER.with_name(
        "msvc_branch.h")), *FLAGS]
    macros = _run([*clang, "-E", "-dM", str(DRIVER)], 120)
    assert "#define CC_ATOMIC volatile" in macros
    obj, exe = tmp_path / "pool_check.o", tmp_path / "pool_check.exe"
    _run([*clang, "-c", "-o", str(obj), str(DRIVER)], 120)
    _run([MINGW, "-o", str(exe), str(obj)], 120)   # clang finds no MinGW libgcc to link with
    _check_driver(_run(["wine", str(exe)], 300, env=wine_env))


def test_every_header_compiles_for_windows(tmp_path):
    # each header on its own, as a kernel module includes it (Py_ssize_t from parallel.h)
    _need(MINGW, required=WINDOWS_REQUIRED)
    failed = []
    for header in sorted(HEADERS.glob("*.h")):
        unit = tmp_path / f"{header.stem}.c"
        unit.write_text(f'#define CC_POOL_WITHOUT_PYTHON\n#include "parallel.h"\n'
                        f'#include "{header.name}"\n')
        result = subprocess.run([MINGW, *FLAGS, "-Wno-unused-function", "-c", "-o",
                                 str(tmp_path / f"{header.stem}.o"), str(unit)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            failed.append(f"{header.name}:\n{result.stderr}")
    # the templates' headers (*.h.tp) exist once setup.py rendered them (any build does)
    assert {"cc_pool.h", "cc_threads.h", "cl_kernel.h"} <= {h.name for h in HEADERS.glob("*.h")}
    assert not failed, "\n".join(failed)

"""Declares the Cython extensions: sources in src/, modules in the package convcore._kernels.

Set CONVCORE_DEBUG=1 to build with bounds checking, CONVCORE_NO_POOL=1 to build serial kernels (no
helper threads), CONVCORE_NO_VARIANTS=1 to build the baseline modules only (no AVX2/AVX-512 builds on
x86-64). No OpenMP: the kernels run on convcore's own thread pool (src/c/cc_pool.h).
"""
import os
import sys
import sysconfig
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
SRC = "src"


def warning_flags():
    """Warnings on for every kernel (GCC/Clang; MSVC warns at /W3 by default): -Wall, less the
    unused static functions that Cython declares in every module, used or not."""
    return [] if sys.platform == "win32" else ["-Wall", "-Wno-unused-function"]


def _write_build_info(compile_args, pool):
    """Record the flags of this build in the package, for `convcore info`."""
    (HERE / "convcore" / "_build_info.py").write_text(
        '"""Written by setup.py at build time: how the compiled modules were built."""\n'
        f"COMPILE_ARGS = {compile_args!r}\nPOOL = {pool!r}\n")


# Modules also built whole for wider x86 instruction sets; convcore._cpu imports the widest build
# the CPU has (and CONVCORE_DISABLE_CPU_FEATURES allows). No FMA in the AVX2 builds: the filters
# promise SciPy's rounding (except separable2d's float buffers with long kernels: cl_sym_fma_f,
# and its uint8 kernels of c/sep8.h, whose float sums are re-checked into SciPy's bytes).
VARIANTS = {"lines": {"avx2": ["-mavx2"]},
            "separable2d": {"avx2": ["-mavx2"]},
            "uniform2d": {"avx2": ["-mavx2"]},
            "box8": {"avx2": ["-mavx2"]},
            "correlate2d": {"avx2": ["-mavx2"]},
            "recheck": {"avx2": ["-mavx2"]},
            "winograd": {"avx2": ["-mavx2"], "avx512f": ["-mavx512f"]},
            "im2col": {"avx2": ["-mavx2"], "avx512f": ["-mavx512f"]},
            "shallow": {"avx2": ["-mavx2", "-mfma"], "avx512f": ["-mavx512f", "-mfma"]},
            "dense": {"avx2": ["-mavx2", "-mfma"], "avx512f": ["-mavx512f", "-mfma"]},
            # (no contraction into FMA: every build gives the baseline's bits)
            "depthwise": {"avx2": ["-mavx2", "-ffp-contract=off"],
                          "avx512f": ["-mavx512f", "-ffp-contract=off"]},
            "ordered": {"avx2": ["-mavx2", "-ffp-contract=off"],
                        "avx512f": ["-mavx512f", "-ffp-contract=off"]},
            "pooling": {"avx2": ["-mavx2", "-ffp-contract=off"],
                        "avx512f": ["-mavx512f", "-ffp-contract=off"]},
            "activations": {"avx2": ["-mavx2", "-ffp-contract=off"],
                            "avx512f": ["-mavx512f", "-ffp-contract=off"]},
            "channels": {"avx2": ["-mavx2", "-ffp-contract=off"],
                         "avx512f": ["-mavx512f", "-ffp-contract=off"]}}

# Flags of one module in every build (GCC/Clang). activations: its tanh (src/c/tanh.h) selects
# between computed values, which GCC vectorises only when no floating-point exception must be kept
# (the results are the same).
MODULE_FLAGS = {"activations": ["-fno-trapping-math"],
                "ordered": ["-ffp-contract=off"]}  # SciPy's rounding on any CPU (aarch64 too)


def x86_variants_supported():
    """True for GCC/Clang builds targeting x86-64 (not MSVC, not other CPUs)."""
    if sys.platform == "win32" or os.environ.get("CONVCORE_NO_VARIANTS"):
        return False
    return (sysconfig.get_platform() or "").lower().endswith(("x86_64", "amd64"))


def variant_sources(stem):
    """(module suffix, .pyx path, flags) of each variant of src/<stem>.pyx: a generated .pyx
    that includes the source, so each build is its own module."""
    out = []
    folder = HERE / "build" / "variants"
    for suffix, flags in VARIANTS.get(stem, {}).items():
        folder.mkdir(parents=True, exist_ok=True)
        stub = folder / f"{stem}_{suffix}.pyx"
        text = f'include "{stem}.pyx"\n'
        if not stub.exists() or stub.read_text() != text:
            stub.write_text(text)
        out.append((f"{stem}_{suffix}", os.path.relpath(stub, HERE), flags))
    return out


def render_templates():
    """Render each Tempita template src/**/*.tp beside itself (``lines.pyx.tp`` -> ``lines.pyx``).

    Where a function must exist once per dtype and a fused type cannot express it, the source is
    one template (as scikit-learn's ``*.pyx.tp``); the rendered files are not tracked (.gitignore).
    """
    from Cython import Tempita

    for template in sorted((HERE / SRC).rglob("*.tp")):
        text = Tempita.Template(template.read_text(), name=str(template)).substitute()
        target = template.with_suffix("")
        if not target.exists() or target.read_text() != text:  # keep mtimes: no needless rebuilds
            target.write_text(text)


def extensions():
    render_templates()
    pool = not os.environ.get("CONVCORE_NO_POOL")
    debug = bool(os.environ.get("CONVCORE_DEBUG"))
    # MSVC: C11 for _Generic (the direct kernel's per-dtype C passes, src/c/direct_rows.h);
    # /volatile:ms for the thread pool's atomics (src/c/cc_threads.h; x64's default, not ARM64's)
    cflags = ["/O2", "/std:c11", "/volatile:ms"] if sys.platform == "win32" else ["-O3"]
    if not debug and sys.platform != "win32":
        cflags.append("-fno-math-errno")
    cflags += warning_flags()
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if not pool:
        macros.append(("CONVCORE_NO_POOL", "1"))
    # CONVCORE_BUILD_ONLY=lines,direct rebuilds a few modules during development.
    only = {s for s in os.environ.get("CONVCORE_BUILD_ONLY", "").split(",") if s}
    exts = []
    for pyx in sorted((HERE / SRC).glob("*.pyx")):
        if only and pyx.stem not in only:
            continue
        builds = [(pyx.stem, f"{SRC}/{pyx.name}", [])]
        if x86_variants_supported():
            builds += variant_sources(pyx.stem)
        for name, source, isa in builds:
            exts.append(
                Extension(
                    f"convcore._kernels.{name}",
                    [source],
                    include_dirs=[numpy.get_include(), SRC],
                    define_macros=macros,
                    extra_compile_args=cflags + isa + (
                        [] if sys.platform == "win32" else MODULE_FLAGS.get(pyx.stem, [])),
                )
            )
    _write_build_info(cflags, pool)
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": False,
        "initializedcheck": debug,
        "cdivision": True,
        "nonecheck": False,
        "embedsignature": True,
    }
    return cythonize(
        exts,
        include_path=[SRC],
        compiler_directives=directives,
        nthreads=int(os.environ.get("CONVCORE_CYTHON_JOBS", "0")),
    )


setup(ext_modules=extensions())

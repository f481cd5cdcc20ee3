"""Every instruction-set path of the kernels gives the native path's results.

A child process runs with CONVCORE_DISABLE_CPU_FEATURES naming one feature this CPU has, and its
results are compared with this process's: bit for bit for the line filters (SciPy's arithmetic,
no FMA in any build), to float rounding for the direct and im2col/Winograd kernels (their AVX2 and
AVX-512 builds may fuse multiply-adds) and for float32 images filtered by separable2d with kernels
of 11 taps or more (multiply-adds in its AVX2 build).
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import convcore
from convcore import _cpu

HOME = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))


def results():
    """{name: array} from the kernels that dispatch, on fixed data."""
    from convcore import ndimage, signal

    rng = np.random.default_rng(0)
    img64 = rng.standard_normal((67, 131))
    img32 = img64.astype(np.float32)
    img8 = rng.integers(0, 256, (67, 131), dtype=np.uint8)
    x = rng.standard_normal((2, 4, 19, 23)).astype(np.float32)
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    return {
        "exact_gauss64": ndimage.gaussian_filter(img64, 2.0),
        "exact_gauss32": ndimage.gaussian_filter(img32, 1.0),
        # float32 images, kernels of 11+ taps: multiply-adds in the AVX2 build (separable2d)
        "close_gauss32_long": ndimage.gaussian_filter(img32, 4.0),
        "exact_gauss8": ndimage.gaussian_filter(img8, 1.0),
        "exact_uniform8": ndimage.uniform_filter(img8, 5),
        "exact_uniform64": ndimage.uniform_filter1d(img64, 7, axis=0),
        "exact_correlate1d": ndimage.correlate1d(img64, [1.0, -2.0, 0.5], axis=1),
        "close_correlate32": ndimage.correlate(img32, rng.standard_normal((5, 5)).astype(np.float32)),
        "close_convolve2d32": signal.convolve2d(img32, np.ones((3, 3), np.float32) / 9, "same"),
        "close_convolve2d64": signal.convolve2d(img64, rng.standard_normal((4, 5)), "valid"),
        "exact_tanh32": convcore.functional.tanh(img32 * 4),
        "exact_tanh64": convcore.functional.tanh(img64 * 4),
        "close_conv_winograd": convcore.conv2d(x, w, padding=1),
        "close_conv_strided": convcore.conv2d(x, w, stride=2),
        "close_conv_grads": np.concatenate(
            [g.ravel() for g in convcore.conv2d_backward(convcore.conv2d(x, w), x, w)[:2]]),
    }


CHILD = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from test_cpu_dispatch import results
from convcore import _cpu
np.savez(sys.argv[1], **results())
print(" ".join(_cpu.ENABLED) or "baseline")
"""


@pytest.mark.parametrize("feature", _cpu.FEATURES)
def test_each_path_gives_the_native_results(feature, tmp_path):
    if feature not in _cpu.ENABLED:
        pytest.skip(f"{feature} is not in use here (CPU, build or {_cpu.ENV})")
    env = dict(os.environ)
    env[_cpu.ENV] = ",".join(sorted(set(_cpu.DISABLED) | {feature}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HOME, env.get("PYTHONPATH")]))
    out = tmp_path / "child.npz"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), os.path.dirname(__file__)],
                          env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert feature not in proc.stdout.split()  # the child ran without it
    native = results()
    with np.load(out) as child:
        assert sorted(child.files) == sorted(native)
        for name, ours in native.items():
            if name.startswith("exact"):
                np.testing.assert_array_equal(child[name], ours, err_msg=name)
            else:
                scale = np.abs(ours).max()
                np.testing.assert_allclose(child[name], ours, rtol=0, atol=1e-5 * scale,
                                           err_msg=name)


def test_disabling_a_feature_disables_the_wider_ones():
    saved = _cpu.DISABLED
    try:
        _cpu.DISABLED = ("AVX2",)
        assert _cpu._enabled() == ()
        _cpu.DISABLED = ("AVX512F",)
        assert _cpu._enabled() == tuple(f for f in ("AVX2",) if f in _cpu.DETECTED)
    finally:
        _cpu.DISABLED = saved


def test_the_variable_is_read_case_insensitively_and_unknown_names_warn():
    assert _cpu._disabled("avx512f, AVX2") == ("AVX2", "AVX512F")
    assert _cpu._disabled("") == ()
    with pytest.warns(RuntimeWarning, match="unknown feature.*SSE9"):
        assert _cpu._disabled("sse9,avx2") == ("AVX2",)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _cpu._disabled("AVX512F")


def test_info_shows_the_features_in_use(capsys):
    convcore.show_config()
    text = capsys.readouterr().out
    assert "cpu_features" in text and "cpu_dispatch" in text
    build = "AVX512F" if "AVX512F" in _cpu.ENABLED else "AVX2" if _cpu.ENABLED else "baseline"
    assert f"im2col {build}" in text
    assert f"winograd {build}" in text

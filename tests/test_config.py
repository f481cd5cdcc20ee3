import io
import os
import subprocess
import sys

import pytest

import convcore
from convcore._kernels import parallel as _parallel
from convcore.cli import main


def test_version_is_a_string():
    assert isinstance(convcore.__version__, str) and convcore.__version__.count(".") >= 2


def test_show_config_reports_the_thread_pool_of_the_build():
    buf = io.StringIO()
    convcore.show_config(file=buf)
    text = buf.getvalue()
    assert f"thread_pool     {_parallel.pool_built()}" in text
    assert convcore.__version__ in text


def test_set_num_threads_roundtrip():
    try:
        convcore.set_num_threads(1)
        assert convcore.get_num_threads() == 1
        convcore.set_num_threads(2)
        assert convcore.get_num_threads() == (2 if _parallel.pool_built() else 1)
    finally:
        convcore.set_num_threads(None)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects_bad_values(bad, exc):
    with pytest.raises(exc, match="n must be a positive int"):
        convcore.set_num_threads(bad)


def test_cli_info_and_version(capsys):
    assert main(["info"]) == 0
    assert "thread_pool" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert convcore.__version__ in capsys.readouterr().out


def test_config_reports_the_flags_of_this_build():
    cflags = convcore._config.config()["cflags"]
    assert "-O3" in cflags or "/O2" in cflags
    assert "openmp" not in cflags  # the kernels' own pool, no OpenMP runtime
    if sys.platform != "win32":
        assert "-Wall" in cflags


def test_threads_are_the_setting_else_omp_num_threads_else_the_cores(tmp_path):
    if not _parallel.pool_built():
        pytest.skip("built without the thread pool: always one thread")
    env = dict(os.environ, OMP_NUM_THREADS="3")
    # the child imports this very convcore (run from elsewhere, a source tree would shadow it)
    home = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [home, env.get("PYTHONPATH")]))
    code = """if True:
        import os, convcore
        from convcore._threads import kernel_threads, _available_cores
        seen = [convcore.get_num_threads()]
        convcore.set_num_threads(1)
        seen.append(convcore.get_num_threads())
        with kernel_threads(2):
            seen.append(convcore.get_num_threads())
        convcore.set_num_threads(None)
        del os.environ["OMP_NUM_THREADS"]
        seen.append(convcore.get_num_threads() == _available_cores())
        print(*seen)
    """
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["3", "1", "2", "True"]

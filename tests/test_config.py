import io
import os
import subprocess
import sys

import pytest

import convcore
from convcore._kernels import openmp as _openmp
from convcore.cli import main


def test_version_is_a_string():
    assert isinstance(convcore.__version__, str) and convcore.__version__.count(".") >= 2


def test_show_config_reports_openmp_state_of_the_build():
    buf = io.StringIO()
    convcore.show_config(file=buf)
    text = buf.getvalue()
    assert f"openmp          {_openmp.openmp_enabled()}" in text
    assert convcore.__version__ in text


def test_set_num_threads_roundtrip():
    try:
        convcore.set_num_threads(1)
        assert convcore.get_num_threads() == 1
        convcore.set_num_threads(2)
        assert convcore.get_num_threads() == (2 if _openmp.openmp_enabled() else 1)
    finally:
        convcore.set_num_threads(None)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_set_num_threads_rejects_bad_values(bad, exc):
    with pytest.raises(exc, match="n must be a positive int"):
        convcore.set_num_threads(bad)


def test_cli_info_and_version(capsys):
    assert main(["info"]) == 0
    assert "openmp" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert convcore.__version__ in capsys.readouterr().out


def test_config_reports_the_flags_of_this_build():
    cflags = convcore._config.config()["cflags"]
    assert "-O3" in cflags or "/O2" in cflags
    if _openmp.openmp_enabled():
        assert "openmp" in cflags


@pytest.mark.parametrize("user", [None, "PASSIVE"])
def test_config_reports_the_wait_policy_the_user_chose_and_sets_none(user, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if user:
        env["OMP_WAIT_POLICY"] = user
    # the child imports this very convcore (run from elsewhere, a source tree would shadow it)
    home = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [home, env.get("PYTHONPATH")]))
    code = ("import os, convcore; print(convcore._config.config()['omp_wait_policy'], '|', "
            "os.environ.get('OMP_WAIT_POLICY'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == ("runtime default | None" if user is None else f"OMP_WAIT_POLICY={user} | {user}")

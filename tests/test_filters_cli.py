"""`convcore filter`: a PNG made here goes through the command and comes back filtered; bad input
fails with one clear line and a non-zero status."""
import subprocess
import sys

import numpy as np
import pytest

from convcore import cli, filters

@pytest.fixture
def Image():
    """Pillow, skipped test by test: the refusals that need no image still run without it."""
    return pytest.importorskip("PIL.Image")


@pytest.fixture
def png(tmp_path, Image):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def _expected(pixels, kernel, stride=1, boundary="symm"):
    out = filters.apply(pixels, kernel, boundary=boundary, stride=stride)
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def test_gaussian_round_trip(png, tmp_path, capsys, Image):
    src, pixels = png
    dst = tmp_path / "blurred.png"
    assert cli.main(["filter", str(src), str(dst), "--kernel", "gaussian", "--size", "7",
                     "--sigma", "1.5"]) == 0
    assert "wrote" in capsys.readouterr().out
    got = np.asarray(Image.open(dst))
    np.testing.assert_array_equal(got, _expected(pixels, filters.gaussian(7, 1.5)))


def test_stride_boundary_and_grey(tmp_path, Image):
    grey = (np.arange(20 * 30) % 251).astype(np.uint8).reshape(20, 30)
    src, dst = tmp_path / "grey.png", tmp_path / "small.png"
    Image.fromarray(grey).save(src)
    assert cli.main(["filter", str(src), str(dst), "--kernel", "box", "--size", "3",
                     "--stride", "2", "--boundary", "wrap"]) == 0
    got = np.asarray(Image.open(dst))
    assert got.shape == (10, 15)
    np.testing.assert_array_equal(got, _expected(grey, filters.box(3), 2, "wrap"))


def test_edge_kernels_write_their_magnitude(png, tmp_path, Image):
    src, pixels = png
    dst = tmp_path / "lines.jpg"
    assert cli.main(["filter", str(src), str(dst), "--kernel", "line_vertical"]) == 0
    assert np.asarray(Image.open(dst)).shape == pixels.shape
    dst2 = tmp_path / "edges.png"
    assert cli.main(["filter", str(src), str(dst2), "--kernel", "edges"]) == 0
    got = np.asarray(Image.open(dst2)).astype(float)
    ref = filters.edges(pixels)
    np.testing.assert_allclose(got, np.rint(ref / ref.max() * 255), atol=1)


def test_text_file_fails_cleanly(tmp_path, capsys, Image):
    txt = tmp_path / "notes.txt"
    txt.write_text("not an image\n")
    assert cli.main(["filter", str(txt), str(tmp_path / "o.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convcore filter: error: cannot read") and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_missing_input_and_overwrite_refused(png, tmp_path, capsys):
    src, _ = png
    assert cli.main(["filter", str(tmp_path / "nope.png"), str(tmp_path / "o.png")]) == 1
    assert "input file not found" in capsys.readouterr().err
    before = src.read_bytes()
    assert cli.main(["filter", str(src), str(src)]) == 1
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert src.read_bytes() == before
    assert cli.main(["filter", str(src), str(tmp_path / "." / "photo.png")]) == 1
    assert src.read_bytes() == before


def test_bad_arguments(png, tmp_path, capsys):
    src, _ = png
    assert cli.main(["filter", str(src), str(tmp_path / "o.xyz")]) == 1
    assert "cannot tell the image format" in capsys.readouterr().err
    assert cli.main(["filter", str(src), str(tmp_path / "o.png"), "--kernel", "sobel_x",
                     "--size", "5"]) == 2
    assert "size must be 3 or None" in capsys.readouterr().err
    assert cli.main(["filter", str(src), str(tmp_path / "o.png"), "--size", "4"]) == 2
    assert "size must be odd" in capsys.readouterr().err
    assert cli.main(["filter", str(src), str(tmp_path / "o.png"), "--stride", "0"]) == 2
    assert "--stride must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["filter", str(src), str(tmp_path / "o.png"), "--kernel", "blur"])


def test_console_entry_point(png, tmp_path):
    src, _ = png
    dst = tmp_path / "o.png"
    proc = subprocess.run([sys.executable, "-m", "convcore", "filter", str(src), str(dst),
                           "--kernel", "sharpen"], capture_output=True, text=True,
                          cwd=tmp_path)  # not the source tree: the installed package must run
    assert proc.returncode == 0, proc.stderr
    assert dst.exists()
    proc = subprocess.run([sys.executable, "-m", "convcore", "filter", str(tmp_path / "x.png"),
                           str(dst)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "input file not found" in proc.stderr


def test_without_pillow(png, tmp_path, capsys, monkeypatch):
    src, _ = png
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert cli.main(["filter", str(src), str(tmp_path / "o.png")]) == 1
    assert "Pillow is needed" in capsys.readouterr().err


def test_truncated_png_and_sixteen_bit_grey(png, tmp_path, capsys, Image):
    src, _ = png
    broken = tmp_path / "broken.png"
    broken.write_bytes(src.read_bytes()[:200])
    assert cli.main(["filter", str(broken), str(tmp_path / "o.png")]) == 1
    assert "cannot read" in capsys.readouterr().err
    deep = (np.arange(16 * 16, dtype=np.uint16) * 250).reshape(16, 16)
    src16, dst16 = tmp_path / "deep.png", tmp_path / "deep_out.png"
    Image.fromarray(deep).save(src16)
    assert cli.main(["filter", str(src16), str(dst16), "--kernel", "identity"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(dst16)), deep)

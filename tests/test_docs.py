"""The documentation's own machinery: the API reference lists every public name, the gallery
scripts carry sphinx-gallery's header, and the browser check finds what it is there to find (run
in real headless Chromium; CI's documentation stage runs it with the ``docs`` extra). The full
build (``sphinx-build -W``) runs in CI's documentation stage, not here."""
import importlib
import importlib.util
import os
import pkgutil
import re
import shutil
import types
from pathlib import Path

import pytest

import convcore

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GALLERY = ROOT / "examples" / "gallery"


def load(name):
    if not (DOCS / f"{name}.py").exists():
        pytest.skip("docs/ is not shipped with the installed package")
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def public_modules():
    for info in pkgutil.walk_packages(convcore.__path__, "convcore."):
        if "._" not in info.name and info.name not in ("convcore.cli", "convcore.__main__"):
            yield importlib.import_module(info.name)


def test_the_api_reference_documents_every_public_name():
    api = load("api_pages")
    pages = api.public_names()
    documented = {id(getattr(importlib.import_module(m), n)) for m, names in pages.items()
                  for n in names}
    missing = [f"{m.__name__}.{n}" for m in [convcore, *public_modules()]
               for n in getattr(m, "__all__", [])
               if not isinstance(getattr(m, n), types.ModuleType) and not n.startswith("__")
               and id(getattr(m, n)) not in documented
               and (callable(getattr(m, n)) or isinstance(getattr(m, n), type))]
    assert missing == []
    # each object once: a name re-exported by a later module is not listed again
    assert len(documented) == sum(len(names) for names in pages.values())


def test_the_api_pages_are_written_with_an_autosummary_per_module(tmp_path):
    api = load("api_pages")
    api.write_api_pages(str(tmp_path))
    text = (tmp_path / "convcore.models.rst").read_text()
    assert ".. autosummary::" in text and "   resnet18\n" in text and "   Weights\n" in text
    index = (tmp_path / "index.rst").read_text()
    assert all(f"   {name}\n" in index for name, _ in api.MODULES)
    assert "   convcore.models.xception\n" in index     # found by itself: XceptionBlock


def test_gallery_scripts_have_a_titled_header():
    if not GALLERY.exists():
        pytest.skip("examples/ is not shipped with the installed package")
    scripts = sorted(GALLERY.glob("plot_*.py"))
    assert len(scripts) >= 7
    for script in scripts:
        match = re.match(r'"""\n(.+)\n(=+)\n\n', script.read_text())
        assert match and len(match.group(1)) == len(match.group(2)), script.name


PAGES = {
    "index.html": '<a href="a.html#here">ok</a> <a href="b.html">missing page</a>'
                  '<a href="a.html#nowhere">missing anchor</a> <img src="pic.png">'
                  '<a href="https://example.org/">external</a>',
    "a.html": '<h1 id="here">A</h1><img src="gone.png"><link rel="stylesheet" href="x.css">',
}


def test_the_browser_check_finds_broken_links_anchors_and_images(tmp_path):
    pytest.importorskip("playwright")
    check = load("browser_check")
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium (apt-get install chromium)")
    for name, body in PAGES.items():
        (tmp_path / name).write_text(f"<!doctype html><html><body>{body}</body></html>")
    # a real 1x1 PNG
    (tmp_path / "pic.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"))
    problems, counts = check.check(str(tmp_path), str(tmp_path / "shot.png"), gallery="a.html")
    text = "\n".join(problems)
    assert "index.html: " in text and "b.html answered 404" in text
    assert "link to a.html#nowhere: no such anchor" in text and "#here" not in text
    assert "a.html: image " in text and "gone.png did not load" in text
    assert "x.css answered 404" in text and "pic.png" not in text
    assert counts["external"] == 1 and counts["pages"] == 3 and counts["images"] == 2
    assert (tmp_path / "shot.png").stat().st_size > 0

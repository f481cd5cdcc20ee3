"""examples/lecture.py, the lecture slide by slide, as the Jupyter notebook a student opens: built
from the script by jupytext and executed by nbclient in a real ipykernel. Every cell asserts that
its hand computation and convcore agree, so an error output fails the test."""
from pathlib import Path

import pytest

import convcore

LECTURE = Path(__file__).resolve().parents[1] / "examples" / "lecture.py"
# the kernel starts in the directory that holds the convcore under test (site-packages when it is
# installed, the source tree of an in-place build), so it imports that same package
PACKAGE_PARENT = Path(convcore.__file__).resolve().parents[1]


@pytest.mark.slow
def test_lecture_notebook_runs_every_slide():
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if not LECTURE.exists():
        pytest.skip("examples/ is not beside tests/ (tests copied without the examples)")
    notebook = jupytext.read(LECTURE)
    markdown = [c for c in notebook.cells if c.cell_type == "markdown"]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(markdown) >= 25 and len(code) >= 25   # one cell per slide or group of slides
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(PACKAGE_PARENT)}})
    client.execute()   # raises CellExecutionError, with the cell and its traceback, on a failure
    text = "".join(out.get("text", "") for cell in code for out in cell.outputs)
    assert f"convcore {convcore.__version__}" in text      # the package under test ran
    assert "slide's L = 1.0498" in text and text.rstrip().endswith("all slides checked")
    figures = [out for cell in code for out in cell.outputs if "image/png" in out.get("data", {})]
    assert len(figures) == 4   # the grid, the 11x11 blur, the line detectors, the 101x101 blur

"""Each chapter's Jupytext .py (the source) and its paired .ipynb hold the same cells."""

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9]*.py"))


def test_there_are_chapters():
    assert CHAPTERS


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.name)
def test_py_and_ipynb_hold_the_same_cells(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run jupytext --sync {py}"
    a, b = jupytext.read(py), jupytext.read(ipynb)
    cells = lambda nb: [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]  # noqa: E731
    assert cells(a) == cells(b), f"{py.name} and {ipynb.name} differ: run jupytext --sync {py}"
    assert b.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "py:percent" in b.metadata.get("jupytext", {}).get("formats", "")


@pytest.mark.parametrize("py", CHAPTERS, ids=lambda p: p.name)
def test_parameters_cell_is_tagged(py):
    nb = jupytext.read(py)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile" in tagged[0].source

"""Executing a chapter for the book: parameters injected, the injected cell hidden, run metadata stored."""

import nbformat
import pytest

from icl_utils.book import execute_chapter


def test_execute_chapter(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "quick"\nn_seeds = None')
    params.metadata["tags"] = ["parameters", "remove-cell"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(profile, n_seeds)")]
    src, dst = tmp_path / "ch.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    seconds = execute_chapter(str(src), str(dst), "paper", {"n_seeds": 7})
    out = nbformat.read(dst, 4)
    injected = [c for c in out.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert out.cells[-1].outputs[0]["text"].strip() == "paper 7"
    meta = out.metadata["icl_book"]
    assert meta["profile"] == "paper" and meta["device"] in ("cpu", "cuda") and seconds > 0
    assert not list(tmp_path.glob("*.partial.ipynb"))


def test_execute_chapter_rejects_unknown_profile(tmp_path):
    with pytest.raises(ValueError, match="'profile'"):
        execute_chapter("x.ipynb", str(tmp_path / "y.ipynb"), "huge")

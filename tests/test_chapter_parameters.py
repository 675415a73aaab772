"""A chapter's papermill parameters reach its profile: the real parameters and setup cells of
every chapter, run by papermill with overrides, followed by one cell that prints the result."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

import icl_utils as icl

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("0*.ipynb"))


def test_chapter_parameters_keeps_only_what_the_cells_defined():
    ns = {
        "profile": "paper",
        "device": None,
        "alpha": 0.3,
        "In": [],
        "Out": {},
        "get_ipython": lambda: None,
        "_i1": "x",
        "__name__": "__main__",
        "np": types.ModuleType("numpy"),
        "EvalConfig": icl.incontext.config.EvalConfig,
        "helper": print,
    }
    assert icl.chapter_parameters(ns) == {"profile": "paper", "device": None, "alpha": 0.3}


def setup_only(chapter: str, tmp_path: Path) -> Path:
    """The chapter cut after its setup cell (the one calling start_chapter), plus a printout."""
    nb = nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    cut = next(i for i, c in enumerate(nb.cells) if "start_chapter" in c.source)
    nb.cells = nb.cells[: cut + 1]
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json\nprint(json.dumps({'name': prof.name, 'seeds': list(prof.seeds), "
            "'base': {k: getattr(prof.base, k) for k in ('alpha', 'beta', 'lr', 'T') if hasattr(prof.base, k)}, "
            "'one_layer_alpha': getattr(getattr(prof, 'one_layer', None), 'alpha', None)}))"
        )
    )
    path = tmp_path / f"{chapter}.ipynb"
    nbformat.write(nb, path)
    return path


def run_papermill(path: Path, *params: str) -> subprocess.CompletedProcess:
    out = path.with_name("out.ipynb")
    cmd = [sys.executable, "-m", "papermill", str(path), str(out), "--cwd", str(NOTEBOOKS), *params]
    env = dict(os.environ, ICL_PROGRESS="off")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    proc.printed = None
    if proc.returncode == 0:
        cell = nbformat.read(out, as_version=4).cells[-1]
        proc.printed = json.loads("".join(o.get("text", "") for o in cell.outputs))
    return proc


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_any_profile_or_config_field_can_be_overridden(chapter, tmp_path):
    path = setup_only(chapter, tmp_path)
    default = run_papermill(path)
    assert default.returncode == 0, default.stderr[-2000:]
    field = "alpha" if "alpha" in default.printed["base"] else "beta"  # chapter 6's runs have no alpha
    new_alpha = 0.3 if default.printed["base"][field] != 0.3 else 0.4
    assert default.printed["seeds"][0] == 0
    proc = run_papermill(
        path, "-p", field, str(new_alpha), "-p", "n_seeds", "2", "-p", "profile", "paper", "-p", "seed", "5"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.printed["name"] == "paper"
    assert proc.printed["seeds"] == [5, 6]  # -p seed moves the chapter's seeds (issue #27, item 5)
    assert proc.printed["base"][field] == new_alpha
    assert proc.printed["base"]["lr"] == default.printed["base"]["lr"]
    if proc.printed["one_layer_alpha"] is not None:  # chapter 5: the one-layer model changes with GPT-2
        assert proc.printed["one_layer_alpha"] == new_alpha


def test_an_unknown_parameter_stops_the_chapter_naming_it(tmp_path):
    proc = run_papermill(setup_only(CHAPTERS[0], tmp_path), "-p", "alpah", "0.3")
    assert proc.returncode != 0
    assert "'alpah' is unknown" in proc.stderr

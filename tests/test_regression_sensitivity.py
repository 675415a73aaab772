"""The regression test is a real test: a small, real change of the science makes nbval fail.

The chapters print statistics that are stable across CPUs (float64, medians, seed
counts).  This test shows that they are not so coarse that a real change passes:
chapter 1 with its learning rate 20 % off (8 instead of 10) fails nbval in its result
cells, not only in the cell that prints the configuration.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _with_parameter(src: Path, dst: Path, name: str, value) -> None:
    nb = json.loads(src.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"])
    new, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", source, flags=re.M)
    assert n == 1, f"no line '{name} = ...' in the parameters cell"
    cell["source"] = new.splitlines(keepends=True)
    dst.write_text(json.dumps(nb))


@pytest.mark.skipif(os.environ.get("ICL_SKIP_SENSITIVITY") == "1", reason="ICL_SKIP_SENSITIVITY=1")
def test_a_learning_rate_off_by_20_percent_fails_nbval_in_result_cells(tmp_path):
    perturbed = tmp_path / "01_in_domain.ipynb"
    _with_parameter(ROOT / "notebooks" / "01_in_domain.ipynb", perturbed, "lr", 8.0)
    env = {**os.environ, "TQDM_DISABLE": "1", "ICL_CACHE_DIR": "off"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "sanitize.cfg"),
            "-q",
            "-o",
            "addopts=",
            str(perturbed),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    failed = re.findall(r"FAILED \S+::Cell (\d+)", run.stdout)
    assert run.returncode != 0, run.stdout[-3000:]
    # More than the configuration printout differs: trained results do.
    assert len(failed) >= 3, run.stdout[-3000:]

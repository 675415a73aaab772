"""The GitHub Pages workflow adds no untested step: every command it runs is a Makefile target
that the repository's own CI (.ci/run) runs too; it deploys with GitHub's official Pages actions."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def steps():
    doc = yaml.safe_load(WORKFLOW.read_text())
    return [(name, s) for name, job in doc["jobs"].items() for s in job["steps"]]


def test_every_run_step_is_a_make_target_that_ci_runs():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    ci = (ROOT / ".ci" / "run").read_text()
    runs = [s["run"] for _, s in steps() if "run" in s]
    assert runs, "the workflow runs nothing"
    for cmd in runs:
        m = re.fullmatch(r"make (\w[\w-]*)(?: PROFILE=(quick|paper))?", cmd.strip())
        assert m, f"not a single make target: {cmd!r}"
        assert m.group(1) in targets, f"no Makefile target {m.group(1)!r}"
        assert re.search(rf"^\s*(\w+=\S+ )*make {m.group(1)}\s*$", ci, flags=re.M), (
            f".ci/run never runs make {m.group(1)}"
        )


def test_it_builds_publishes_and_tests_with_the_official_actions():
    doc = yaml.safe_load(WORKFLOW.read_text())
    uses = {s["uses"].split("@")[0] for _, s in steps() if "uses" in s}
    assert {"actions/upload-pages-artifact", "actions/deploy-pages", "actions/cache"} <= uses
    assert doc["jobs"]["deploy"]["needs"] == "build"
    assert doc["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("with", {}).get("path") == "_build/html" for _, s in steps())
    assert any(s.get("with", {}).get("path") == ".icl_cache" for _, s in steps())  # the result cache persists
    assert doc[True]["push"]["branches"] == ["main"]  # YAML reads the key 'on' as True

"""The package's import graph: no circles, nothing imports the package itself from below."""

import ast
from pathlib import Path

import icl_utils

PKG = Path(icl_utils.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The package modules that ``path`` imports, at module level or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:  # from . import a, b
                out.update(alias.name for alias in node.names)
    return out


def graph() -> dict[str, set[str]]:
    mods = {p.stem for p in PKG.glob("*.py")}
    return {p.stem: imports_of(p) & mods for p in PKG.glob("*.py") if p.stem != "__init__"}


def test_no_module_imports_the_package_root():
    assert {m for m, deps in graph().items() if "__init__" in deps or "__version__" in deps} == set()


def test_the_import_graph_has_no_circles():
    g = graph()
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m) :] + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(g.get(m, ())):
            visit(d, path + [m])
        state[m] = 2

    for m in sorted(g):
        visit(m, [])


def test_the_validators_and_run_configs_sit_at_the_bottom():
    g = graph()
    assert g["config"] == set()  # imports nothing of the package
    assert "profiles" not in set().union(*(deps for m, deps in g.items() if m not in ("book",)))

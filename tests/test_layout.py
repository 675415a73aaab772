"""The package's layout and import graph: four layers, no circles, nothing imports upward."""

import ast
from pathlib import Path

import icl_utils

PKG = Path(icl_utils.__file__).parent

#: The layers, bottom first: a module may import its own layer and the layers before it,
#: except that the two papers' parts never import each other.
LAYERS = ("core", "incontext", "cot", "concepts", "book")
ALLOWED = {
    "core": {"core"},
    "incontext": {"core", "incontext"},
    "cot": {"core", "cot"},
    "concepts": {"core", "concepts"},
    "book": {"core", "incontext", "cot", "concepts", "book"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The package modules that ``path`` imports (relative imports resolved), at module level
    or inside a function: ``core.sgd``, ``incontext`` (a sub-package), ...; ``""`` is the root."""
    here = module_name(path).split(".") if module_name(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package[: len(package) - (node.level - 1)]
            mod = [*base, *(node.module.split(".") if node.module else [])]
            if node.module:
                out.add(".".join(mod))
            else:
                out.update(".".join([*mod, a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("icl_utils"):
            out.add(node.module.removeprefix("icl_utils").lstrip("."))
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PKG.rglob("*.py")}


def test_the_folder_list_shows_the_layers():
    assert sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(LAYERS)
    assert {p.name for p in PKG.glob("*.py")} == {"__init__.py", "_version.py"}


def test_nothing_imports_upward_and_the_parts_stay_apart():
    bad = []
    for mod, deps in graph().items():
        layer = mod.split(".")[0]
        if layer not in ALLOWED:
            continue  # the root and _version
        for dep in deps:
            top = dep.split(".")[0]
            if top == "_version":
                continue
            if top not in ALLOWED[layer]:
                bad.append(f"{mod} imports {dep or 'icl_utils'}")
    assert bad == []


def test_no_module_imports_the_package_root():
    assert [m for m, deps in graph().items() if "" in deps and m] == []


def test_the_import_graph_has_no_circles():
    g = {m: {d for d in deps if d in graph_modules()} for m, deps in graph().items()}
    state: dict[str, int] = {}

    def visit(m, path):
        if state.get(m) == 1:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m) :] + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if d != m and not m.startswith(d + "."):  # a sub-package's __init__ imports its modules
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(g):
        visit(m, [])


def graph_modules() -> set[str]:
    return {module_name(p) for p in PKG.rglob("*.py")}


def test_validators_and_base_classes_sit_at_the_bottom():
    g = graph()
    for mod in ("core.checks", "core.numerics", "core.rng"):
        assert {d for d in g[mod] if d} <= {"core.checks"}, mod


def test_importing_the_package_loads_only_the_core():
    """A Ray worker or a training script does not pay for the book's plotting libraries."""
    import subprocess
    import sys

    code = (
        "import sys, icl_utils, torch\n"
        "assert torch.get_default_dtype() == torch.float64\n"
        "assert 'icl_utils.book' not in sys.modules and 'seaborn' not in sys.modules\n"
        "assert callable(icl_utils.start_chapter) and 'icl_utils.book' in sys.modules\n"
        "assert icl_utils.ICLConfig().T > 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_readme_layout_names_every_module():
    readme = (PKG.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("\n## ")]
    for sub in LAYERS:
        assert f"{sub}/" in layout, sub
        for p in (PKG / sub).glob("*.py"):
            if p.name not in ("__init__.py", "__main__.py"):
                assert p.name in layout, f"README layout misses {sub}/{p.name}"

"""The shape of the house (docs/architecture.md), checked on the source: layers whose imports point down, no import
circle, every environment variable read in lenet/environment.py, one name one meaning, files a newcomer can read."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import ROOT

LENET = ROOT / "lenet"
# Each part may import its own package and the parts of lower rank only.
RANKS = {"core": 0, "data": 1, "training": 2, "inspection": 3, "attribution": 3, "lessons": 3, "plots": 3, "sweep_plots": 3,
         "inspect_plots": 3,
         "environment": 4, "train": 5, "bench": 5, "snapshot_bench": 5, "screenshots": 5, "sweep": 5,
         "cluster_bench": 5, "reference": 5, "latency": 7, "latency_load": 6}
MAX_LIBRARY_LINES, MAX_PAGE_LINES = 350, 120


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_files() -> list[Path]:
    return sorted(LENET.rglob("*.py"))


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """The lenet modules that path imports anywhere in it (inside functions too), relative imports resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lenet"}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if module.split(".")[0] == "lenet":
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names  # `from . import runs`: a module, not a name
                          if (root / f"{module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def part(module: str) -> str | None:
    """core, data, ... for lenet.core.model; None for the package itself (its __init__ only re-exports)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else None


GRAPH = {module_name(p): imported_modules(p) for p in library_files()}


def test_every_part_has_a_rank():
    assert {part(m) for m in GRAPH} - {None} == set(RANKS)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if part(m)))
def test_imports_point_down(module):
    mine = part(module)
    for target in GRAPH[module]:
        theirs = part(target)
        assert theirs is not None, f"{module} imports the lenet package itself; import the part it needs"
        assert theirs == mine or RANKS[theirs] < RANKS[mine], f"{module} ({mine}) imports {target} ({theirs})"


def test_core_imports_no_other_part_and_nothing_below_training_imports_it():
    for module, targets in GRAPH.items():
        if part(module) == "core":
            assert all(part(t) == "core" for t in targets), module
        if part(module) in ("core", "data"):
            assert not any(part(t) == "training" for t in targets), module


def test_no_import_circle():
    graph = {m: {t for t in ts if t in GRAPH and t != m and not m.startswith(t + ".")} for m, ts in GRAPH.items()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            assert state.get(nxt) != "open", " -> ".join(path + [node, nxt])
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])


def environment_reads(path: Path) -> list[int]:
    """Lines that read a setting from the environment: os.environ[...], os.environ.get(...), os.getenv(...)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            lines.append(node.lineno)
    return lines


def test_the_environment_is_read_in_one_place():
    allowed = {LENET / "environment.py"}
    # screenshots hands its own environment on to the app it starts (a copy, with $LENET_RUNS_DIR set): no read
    copies = {LENET / "screenshots.py": "env = dict(os.environ"}
    files = library_files() + sorted((ROOT / "ui").glob("*.py")) + sorted((ROOT / "pages").glob("*.py")) + \
        [ROOT / "streamlit_app.py"]
    for path in files:
        if path in allowed:
            continue
        for line in environment_reads(path):
            text = path.read_text().splitlines()[line - 1]
            assert path in copies and copies[path] in text, f"{path.relative_to(ROOT)}:{line} reads the environment"


def test_one_name_one_meaning():
    where = defaultdict(list)
    for path in library_files():
        if path.name == "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            for name in names:
                if not name.startswith("_") and name != "main":  # every command has its main()
                    where[name].append(str(path.relative_to(ROOT)))
    assert {name: files for name, files in where.items() if len(files) > 1} == {}


def test_files_stay_short_and_the_library_never_imports_streamlit():
    for path in library_files():
        assert len(path.read_text().splitlines()) <= MAX_LIBRARY_LINES, path
        assert "streamlit" not in {m.split(".")[0] for m in imported_streamlit(path)}, path
    for path in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "streamlit_app.py"]:
        assert len(path.read_text().splitlines()) <= MAX_PAGE_LINES, path


def imported_streamlit(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The checks above can fail: an upward import and an environment read are each found."""
    bad = tmp_path / "lenet" / "core"
    bad.mkdir(parents=True)
    (bad / "ops.py").write_text("import os\nfrom ..training import train\nX = os.environ.get('LENET_X')\n")
    assert "lenet.training" in imported_modules(bad / "ops.py", tmp_path)
    assert environment_reads(bad / "ops.py") == [3]

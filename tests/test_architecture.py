"""The import contract: every module imports only its own layer or the layers below it, and
no two modules import each other, directly or round a loop (docs/ARCHITECTURE.md).

Read from the source with ``ast`` (nothing is imported), so the contract also covers imports
inside functions and under ``TYPE_CHECKING``: a deferred upward import is still an upward
dependency. The checker is tested on small made-up packages too, so a green run means the
rules were applied, not that the checker saw nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pipeline"

# Bottom first. A module may import modules of its own layer entry and of every entry before
# it. Packages grouped in one tuple are siblings on one floor: neither may import the other.
LAYERS: list[tuple[str, ...]] = [
    ("pipeline",),            # the package root: __version__ only
    ("pipeline.domain",),     # typed data every stage passes on
    ("pipeline.text",),       # Han ranges, normalisation, ID numbers and masks
    ("pipeline.fileio",),     # atomic writes, checksums, disk space
    ("pipeline.logs",),       # log lines without private data
    ("pipeline.scheme",),     # the filing scheme (分类方案) and 档号 templates
    ("pipeline.config",),
    ("pipeline.store",),      # persistence only: engine, models, catalog queries, migrations
    # the stages, in pipeline order: a stage may use an earlier one, never a later one
    ("pipeline.ingest",),
    ("pipeline.imaging",),
    ("pipeline.ocr",),
    ("pipeline.classify",),
    ("pipeline.archive",),
    ("pipeline.index",),
    ("pipeline.filing", "pipeline.access"),  # domain services over the catalog
    ("pipeline.runner",),     # workers, indexer, the service
    ("pipeline.web",),
    ("pipeline.cli",),
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its source."""
    top = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # ``from pkg import sub`` imports the submodule pkg.sub where there is one.
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[0]  # pkg.mod.Class → pkg.mod
            if target.split(".")[0] == top and target in known and target != name:
                found.add(target)
    return found


def layer_of(name: str, layers: list[tuple[str, ...]]) -> tuple[int, str]:
    """(floor, the package that places it there): the longest prefix wins."""
    best = (-1, "")
    for floor, group in enumerate(layers):
        for package in group:
            # The root package holds only itself: a module at the root belongs in a layer of its own.
            inside = name.startswith(package + ".") and "." in package
            if (name == package or inside) and len(package) > len(best[1]):
                best = (floor, package)
    return best


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def layering_violations(edges: dict[str, set[str]], layers: list[tuple[str, ...]]) -> list[str]:
    problems = []
    for name, targets in sorted(edges.items()):
        floor, package = layer_of(name, layers)
        if floor < 0:
            problems.append(f"{name}: in no layer (add it to LAYERS and docs/ARCHITECTURE.md)")
            continue
        for target in sorted(targets):
            t_floor, t_package = layer_of(target, layers)
            if t_floor > floor:
                problems.append(f"{name} imports {target}: upward ({package} is below {t_package})")
            elif t_floor == floor and t_package != package:
                problems.append(f"{name} imports {target}: {package} and {t_package} are siblings")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


# ───────────────────────────── the contract ─────────────────────────────


def test_every_import_goes_down_the_layers():
    assert layering_violations(graph(ROOT), LAYERS) == []


def test_no_import_cycles():
    assert cycles(graph(ROOT)) == []


def test_every_layer_names_a_real_package():
    known = modules(ROOT)
    assert [p for group in LAYERS for p in group if p not in known] == []


# ───────────────────────────── the checker itself ─────────────────────────────


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


TOY_LAYERS = [("pkg",), ("pkg.low",), ("pkg.left", "pkg.right"), ("pkg.high",)]


def test_checker_finds_an_upward_import_even_inside_a_function(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/base.py": "def f():\n    from pkg.high import thing\n",
        "left/__init__.py": "",
        "right/__init__.py": "",
        "high/__init__.py": "from pkg.low import base\nthing = 1\n",
    })
    assert layering_violations(graph(root), TOY_LAYERS) == [
        "pkg.low.base imports pkg.high: upward (pkg.low is below pkg.high)"]


def test_checker_finds_sibling_imports_and_relative_ones(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "left/__init__.py": "from ..right import mod\n",
        "right/__init__.py": "",
        "right/mod.py": "from ..low import x\n",
        "high/__init__.py": "",
    })
    assert layering_violations(graph(root), TOY_LAYERS) == [
        "pkg.left imports pkg.right.mod: pkg.left and pkg.right are siblings"]


def test_checker_finds_a_cycle_and_a_module_in_no_layer(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "from pkg.low import b\n",
        "low/b.py": "import pkg.low.c\n",
        "low/c.py": "from .a import name\n",
        "stray.py": "",
    })
    edges = graph(root)
    assert cycles(edges) == [["pkg.low.a", "pkg.low.b", "pkg.low.c"]]
    assert layering_violations(edges, TOY_LAYERS) == [
        "pkg.stray: in no layer (add it to LAYERS and docs/ARCHITECTURE.md)"]


@pytest.mark.parametrize("source", ["from pipeline.web import app\n", "import pipeline.runner.worker\n"])
def test_an_upward_import_in_the_real_store_is_caught(tmp_path, source):
    """The contract on a copy of the real tree with one upward import added to the store."""
    import shutil

    copy = tmp_path / "pipeline"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    (copy / "store" / "catalog.py").write_text((copy / "store" / "catalog.py").read_text() + source)
    problems = layering_violations(graph(copy), LAYERS)
    assert len(problems) == 1 and problems[0].startswith("pipeline.store.catalog imports ")

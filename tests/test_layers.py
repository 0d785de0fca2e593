"""The layering rules, read from the source with `ast` (every import, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["engine", "tui", "commands", "cli.py"]
# Which engine package may import which (besides itself and the shared leaves errors/fileio).
ALLOWED = {
    "music": set(),
    "audio": {"music"},
    "coconet": {"music"},
    "accompany": {"music", "coconet"},
    "training": {"music", "coconet", "accompany"},
    "benchmarks": {"music", "coconet", "accompany", "audio", "training"},
    "weights": set(),
}
SHARED = {"engine", "engine.errors", "engine.fileio"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files() -> list[Path]:
    files = []
    for name in SOURCES:
        p = ROOT / name
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return files


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (`from a import b` counts a and a.b)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


GRAPH = {module_name(p): imports_of(p) for p in python_files()}
MODULES = set(GRAPH)


def internal_edges(name: str) -> set[str]:
    return {m for m in GRAPH[name] if m in MODULES and m != name}


def engine_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and name not in SHARED) else None


def test_the_graph_was_read():
    assert "engine.music.score" in MODULES and "engine.coconet.composer" in MODULES
    assert "engine.music.score" in internal_edges("engine.coconet.composer")


def test_engine_never_imports_the_ui():
    for name, imported in GRAPH.items():
        if name.startswith("engine"):
            bad = {m for m in imported if m.split(".")[0] in ("tui", "textual", "commands", "cli")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_music_never_imports_torch():
    for name, imported in GRAPH.items():
        if name.startswith("engine.music"):
            assert not {m for m in imported if m.split(".")[0] == "torch"}, name


def test_engine_packages_import_only_those_below_them():
    for name in MODULES:
        pkg = engine_package(name) if name.startswith("engine.") else None
        if pkg is None:
            continue
        for target in internal_edges(name):
            other = engine_package(target) if target.startswith("engine.") else None
            if target.startswith("engine.") and other not in (None, pkg):
                assert other in ALLOWED[pkg], f"{name} ({pkg}) imports {target} ({other})"


def test_no_import_circles():
    """Tarjan's strongly connected components over modules; every component must be one module."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in internal_edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"

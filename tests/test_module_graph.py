"""The house's shape: no import circle anywhere in ``toolkit/``, no module over ~600 lines.

Why a test: circles were hidden behind function-level imports (``cli/audit`` ->
``cli/history`` -> ``cli/remediate`` -> ``cli/audit``; ``model`` <->
``ccmail/address``), where nothing fails until someone moves an import to the
top. This walks every module's code, function bodies included, so a circle
cannot hide behind a lazy import again.
"""

from __future__ import annotations

import ast
from pathlib import Path

TOOLKIT = Path(__file__).resolve().parent.parent / "toolkit"
MAX_LINES = 600
# Modules allowed over MAX_LINES, each with the reason. Keep it empty if you can.
LONG_MODULES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(TOOLKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(TOOLKIT.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest module of ``toolkit`` that the dotted ``name`` names."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (never executed)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skipped |= {id(n) for n in ast.walk(stmt)}
    return skipped


def imports_of(module: str, modules: dict[str, Path]) -> set[str]:
    """The toolkit modules ``module`` imports, top level and inside functions."""
    path = modules[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from toolkit.pkg import sub`` imports the submodule when there is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                     for a in node.names]
        else:
            continue
        for name in names:
            if name == "toolkit" or name.startswith("toolkit."):
                target = _resolve(name, modules)
                if target and target != module:
                    found.add(target)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each
    shown as one circle through it, sorted so the failure reads the same."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_circle(graph, g) for g in groups)


def _circle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One circle through the group's first module, for a readable failure."""
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    return group


def module_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: imports_of(m, modules) for m in modules}


def test_no_import_circle_in_toolkit():
    cycles = find_cycles(module_graph())
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_sees_circles_through_function_level_imports(tmp_path):
    """The finder itself can fail: a lazy import inside a function still closes a circle."""
    pkg = tmp_path / "toolkit"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "cli" / "__init__.py").write_text("")
    (pkg / "cli" / "a.py").write_text("from toolkit.cli.b import f\n")
    (pkg / "cli" / "b.py").write_text("def f():\n    from toolkit.cli import c\n")
    (pkg / "cli" / "c.py").write_text("def g():\n    from . import a\n")
    (pkg / "cli" / "d.py").write_text("from typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from toolkit.cli import a\n")
    modules = {_name(p, tmp_path): p for p in sorted(pkg.rglob("*.py"))}
    graph = {m: imports_of(m, modules) for m in modules}
    assert graph["toolkit.cli.b"] == {"toolkit.cli.c"}
    assert graph["toolkit.cli.c"] == {"toolkit.cli.a"}
    assert graph["toolkit.cli.d"] == set()
    assert find_cycles(graph) == [["toolkit.cli.a", "toolkit.cli.b", "toolkit.cli.c",
                                   "toolkit.cli.a"]]


def _name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_in_toolkit_over_600_lines():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _modules().items()}
    long = {m: n for m, n in sizes.items() if n > MAX_LINES and m not in LONG_MODULES}
    assert long == {}
    # an exception that no longer needs its place is taken off the list
    assert {m for m in LONG_MODULES if sizes.get(m, 0) <= MAX_LINES} == set()

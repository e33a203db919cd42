"""The package layout stays one-directional: no import cycle between web4os's packages
(every import counts, lazy ones inside functions too) and no module over 400 lines.

The same rule as ``shared/tools/layout_check.py``, inside the suite so CI keeps it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "web4os"
LIMIT = 400


def _unit(module: str) -> str:
    """``web4os.goals.service`` → ``web4os.goals``; ``web4os.db`` stays itself."""
    return ".".join(module.split(".")[:2])


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        me = _unit(".".join(p for p in parts if p != "__init__"))
        edges = graph.setdefault(me, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                unit = _unit(name)
                tail = unit.split(".")[-1]
                if (name.startswith("web4os.") and unit != me
                        and ((ROOT / tail).is_dir() or (ROOT / f"{tail}.py").is_file())):
                    edges.add(unit)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph = _graph()
    assert "web4os.goals" in graph and "web4os.agents" in graph["web4os.goals"]
    assert _cycles(graph) == []


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_over_400_lines() -> None:
    long = [f"{p.relative_to(ROOT.parent)} ({n} lines)" for p in sorted(ROOT.rglob("*.py"))
            if (n := p.read_text().count("\n")) > LIMIT]
    assert long == []

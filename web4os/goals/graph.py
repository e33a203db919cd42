"""The plan as a graph: cards laid out in columns by depth, for a server-rendered SVG."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from web4os.goals.models import Task
from web4os.goals.plans import layers

if TYPE_CHECKING:
    from web4os.goals.board import Board

GRAPH_MAX_NODES = 60
"""Above this the plan graph is unreadable; the board is the better view."""


@dataclass
class GraphNode:
    task: Task
    x: int
    y: int
    lines: tuple[str, ...] = ()


@dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[GraphNode, GraphNode]]
    width: int
    height: int
    too_big: bool = False
    node_w: int = 0
    node_h: int = 0
    limit: int = GRAPH_MAX_NODES


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 224, 64, 56, 16, 12
TITLE_CHARS = 27


def _wrap(title: str, width: int = TITLE_CHARS, lines: int = 2) -> tuple[str, ...]:
    """Break a title into at most two short lines for an SVG label (SVG has no wrapping)."""
    out: list[str] = []
    current = ""
    words = title.split()
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        if len(out) == lines - 1:
            rest = " ".join([current, *words[i + 1:]])
            out.append(rest if len(rest) <= width else rest[: width - 1].rstrip() + "…")
            return tuple(out)
    if current:
        out.append(current if len(current) <= width else current[: width - 1] + "…")
    return tuple(out[:lines])


def plan_graph(b: Board) -> Graph:
    """Lay the DAG out in columns by depth, for a server-rendered SVG.

    Within a column, cards sit near the average row of what they depend on
    (barycentre ordering), which keeps edges short and mostly uncrossed.
    """
    if b.total > GRAPH_MAX_NODES:
        return Graph([], [], 0, 0, too_big=True, node_w=NODE_W, node_h=NODE_H)
    by_key = {t.id: t for t in b.tasks}
    depth = layers({str(t.id): [str(d) for d in b.deps.get(t.id, []) if d in by_key]
                    for t in b.tasks})
    columns: dict[int, list[Task]] = {}
    for task in b.tasks:
        columns.setdefault(depth.get(str(task.id), 0), []).append(task)
    row_of: dict[int, float] = {}
    nodes: dict[int, GraphNode] = {}
    for col, col_tasks in sorted(columns.items()):
        if col > 0:
            def centre(t: Task) -> float:
                parents = [row_of[d] for d in b.deps.get(t.id, []) if d in row_of]
                return sum(parents) / len(parents) if parents else float(t.position)
            col_tasks.sort(key=lambda t: (centre(t), t.position))
        for row, task in enumerate(col_tasks):
            row_of[task.id] = row
            nodes[task.id] = GraphNode(task, PAD + col * (NODE_W + GAP_X),
                                       PAD + row * (NODE_H + GAP_Y), _wrap(task.title))
    edges = [(nodes[d], nodes[t.id]) for t in b.tasks for d in b.deps.get(t.id, [])
             if d in nodes]
    width = PAD + max((n.x + NODE_W for n in nodes.values()), default=0)
    height = PAD + max((n.y + NODE_H for n in nodes.values()), default=0)
    return Graph(list(nodes.values()), edges, width, height, node_w=NODE_W, node_h=NODE_H)

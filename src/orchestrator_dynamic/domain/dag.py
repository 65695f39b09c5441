"""Task graphs: structural validation and a stable topological order."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from orchestrator_dynamic.domain.errors import Issue

Graph = Mapping[str, Sequence[str]]
"""task_id -> the task_ids it depends on."""


def structural_issues(task_ids: Sequence[str], graph: Graph) -> list[Issue]:
    """Duplicates, unknown dependencies and cycles, in that order; empty when the DAG is sound."""
    issues = _duplicate_issues(task_ids)
    issues += _unknown_dependency_issues(graph)
    if issues:
        return issues
    cycle = find_cycle(graph)
    if cycle:
        path = " -> ".join(cycle)
        issues.append(Issue("dag.cycle", f"dependency cycle {path}", "tasks"))
    return issues


def _duplicate_issues(task_ids: Sequence[str]) -> list[Issue]:
    counts = Counter(task_ids)
    return [
        Issue("dag.duplicate_task_id", f"task_id {tid!r} appears {n} times", f"tasks[{tid}]")
        for tid, n in counts.items()
        if n > 1
    ]


def _unknown_dependency_issues(graph: Graph) -> list[Issue]:
    return [
        Issue(
            "dag.unknown_dependency",
            f"task {tid!r} depends on {dep!r}, which is not in the plan",
            f"tasks[{tid}].dependencies",
        )
        for tid, deps in graph.items()
        for dep in deps
        if dep not in graph
    ]


def find_cycle(graph: Graph) -> list[str]:
    """One cycle as a closed path ``[a, b, c, a]``, or ``[]``; iterative (deep plans are fine)."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(graph[root]))]
        path = [root]
        colour[root] = grey
        while stack:
            node, deps = stack[-1]
            nxt = next((d for d in deps if colour.get(d, black) != black), None)
            if nxt is None:
                colour[node] = black
                stack.pop()
                path.pop()
            elif colour[nxt] == grey:
                start = path.index(nxt)
                # Edges point from a task to what it needs; report in execution direction.
                return list(reversed([*path[start:], nxt]))
            else:
                colour[nxt] = grey
                stack.append((nxt, iter(graph[nxt])))
                path.append(nxt)
    return []


def topological_order(graph: Graph, preferred: Sequence[str] = ()) -> list[str]:
    """Dependencies before dependants; ties broken by ``preferred`` order, then plan order.

    Raises ValueError on a cycle (validate first).
    """
    rank: dict[str, int] = {}
    for tid in [*preferred, *graph]:
        if tid in graph:
            rank.setdefault(tid, len(rank))
    remaining = {tid: len(set(deps)) for tid, deps in graph.items()}
    dependants = dependants_of(graph)
    ready = [(rank[t], t) for t, n in remaining.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, tid = heapq.heappop(ready)
        order.append(tid)
        for child in dependants[tid]:
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, (rank[child], child))
    if len(order) != len(graph):
        raise ValueError("graph has a cycle")
    return order


def dependants_of(graph: Graph) -> dict[str, list[str]]:
    """Reverse edges: task_id -> the tasks that wait for it."""
    out: dict[str, list[str]] = {tid: [] for tid in graph}
    for tid, deps in graph.items():
        for dep in dict.fromkeys(deps):
            out[dep].append(tid)
    return out


def layers(graph: Graph) -> list[list[str]]:
    """Tasks grouped by depth: layer 0 has no dependencies, layer n needs layer n-1 at most."""
    depth: dict[str, int] = {}
    for tid in topological_order(graph):
        depth[tid] = 1 + max((depth[d] for d in graph[tid]), default=-1)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for tid, d in depth.items():
        out[d].append(tid)
    return out

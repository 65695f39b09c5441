"""The console's reading of a workflow's tickets: layers by dependency depth, the critical path,
how much of each SLA window is used, and which tickets compensate which. Pure: the API draws it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Share of an SLA window past which an open ticket counts as at risk (SLA_WARNING_THRESHOLD's
# default; the console only colours with it, alerts come from the SLA monitor).
AT_RISK_SHARE = 0.8
OPEN = frozenset({"PENDING", "RUNNING", "COMPENSATING"})
COMPENSATE = "COMPENSATE"


def depths(tickets: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """ticket_id -> 1 + the deepest dependency (0 without any). Dependencies on tickets not in
    the list are ignored; a cycle (never accepted by C1) puts its members at depth 0."""
    deps = {str(t["ticket_id"]): [str(d) for d in t.get("dependencies") or []] for t in tickets}
    out: dict[str, int] = {}
    for start in deps:
        if start in out:
            continue
        # Iterative post-order: a 1,000-deep chain must not hit the recursion limit.
        stack: list[tuple[str, bool]] = [(start, False)]
        visiting: set[str] = set()
        while stack:
            tid, ready = stack.pop()
            if tid in out:
                continue
            known = [d for d in deps[tid] if d in deps]
            if ready:
                visiting.discard(tid)
                out[tid] = 1 + max((out.get(d, -1) for d in known), default=-1)
                continue
            if tid in visiting:  # a cycle: break it here
                out[tid] = 0
                continue
            visiting.add(tid)
            stack.append((tid, True))
            stack.extend((d, False) for d in known if d not in out)
    return out


def layers(tickets: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Ticket ids by depth, each layer in the order the tickets came."""
    depth = depths(tickets)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for t in tickets:
        out[depth[str(t["ticket_id"])]].append(str(t["ticket_id"]))
    return out


def duration_ms(ticket: Mapping[str, Any], now_ms: int) -> int:
    """What a ticket costs on a path: measured once it ran, running time so far while it runs,
    else the plan's estimate (1 ms without one, so depth still counts)."""
    started, completed = ticket.get("started_at"), ticket.get("completed_at")
    if started is not None and completed is not None:
        return max(1, int(completed) - int(started))
    if started is not None:
        return max(1, now_ms - int(started))
    return max(1, int(ticket.get("estimated_duration_ms") or 1))


def critical_path(tickets: Sequence[Mapping[str, Any]], now_ms: int) -> list[str]:
    """The chain of dependencies with the longest total duration, first ticket first.
    Compensation tickets run after the plan and are left out."""
    plan = [t for t in tickets if t.get("task_type") != COMPENSATE]
    by_id = {str(t["ticket_id"]): t for t in plan}
    finish: dict[str, int] = {}
    parent: dict[str, str | None] = {}
    for layer in layers(plan):
        for tid in layer:
            deps = [str(d) for d in by_id[tid].get("dependencies") or [] if str(d) in finish]
            best = max(deps, key=lambda d: finish[d], default=None)
            parent[tid] = best
            finish[tid] = (finish[best] if best else 0) + duration_ms(by_id[tid], now_ms)
    if not finish:
        return []
    last: str | None = max(finish, key=lambda k: finish[k])
    path: list[str] = []
    while last is not None:
        path.append(last)
        last = parent[last]
    return path[::-1]


def sla_used(ticket: Mapping[str, Any], now_ms: int) -> float | None:
    """Share of the ticket's SLA window (creation to deadline) used: up to its end once it
    ended, up to now while open. Above 1 means the deadline passed. None without a window."""
    created, deadline = ticket.get("created_at"), ticket.get("deadline")
    if created is None or deadline is None or int(deadline) <= int(created):
        return None
    ended = ticket.get("completed_at")
    until = int(ended) if ended is not None and ticket.get("status") not in OPEN else now_ms
    return max(0.0, (until - int(created)) / (int(deadline) - int(created)))


def sla_state(tickets: Sequence[Mapping[str, Any]], now_ms: int) -> str:
    """VIOLATED when a ticket ran or runs past its deadline, AT_RISK when an open one used most
    of its window, OK otherwise; NONE without tickets."""
    if not tickets:
        return "NONE"
    state = "OK"
    for t in tickets:
        used = sla_used(t, now_ms)
        if used is None:
            continue
        if used > 1:
            return "VIOLATED"
        if used >= AT_RISK_SHARE and t.get("status") in OPEN:
            state = "AT_RISK"
    return state


def graph(tickets: Sequence[Mapping[str, Any]], now_ms: int) -> dict[str, Any]:
    """Everything the plan view draws: nodes by layer, edges dependency -> dependant, the critical
    path, compensation links (ticket -> its COMPENSATE ticket) and the SLA state."""
    known = {str(t["ticket_id"]) for t in tickets}
    critical = critical_path(tickets, now_ms)
    on_path = set(critical)
    compensates = {
        str(t["compensation_ticket_id"]): str(t["ticket_id"])
        for t in tickets
        if t.get("compensation_ticket_id")
    }
    nodes = {}
    for t in tickets:
        tid = str(t["ticket_id"])
        nodes[tid] = {
            "ticket_id": tid,
            "task_id": t.get("task_id"),
            "task_type": t.get("task_type"),
            "description": t.get("description", ""),
            "status": t.get("status"),
            "worker_id": t.get("worker_id"),
            "retry_count": int(t.get("retry_count") or 0),
            "sla_used": sla_used(t, now_ms),
            "critical": tid in on_path,
            "compensation_ticket_id": t.get("compensation_ticket_id"),
            "compensates": compensates.get(tid),
            "error_message": t.get("error_message"),
        }
    edges = [
        [str(d), str(t["ticket_id"])]
        for t in tickets
        for d in t.get("dependencies") or []
        if str(d) in known
    ]
    return {
        "layers": layers(tickets),
        "nodes": nodes,
        "edges": edges,
        "critical_path": critical,
        "sla_state": sla_state(tickets, now_ms),
    }

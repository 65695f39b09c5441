"""The console's reading of a plan: layers, critical path, SLA windows, compensation links."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.domain import plan_graph
from orchestrator_dynamic.domain.plan_outline import plan_outline
from tests.conftest import decision_doc


def ticket(tid: str, *deps: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ticket_id": tid,
        "task_id": f"task-{tid}",
        "task_type": "BUILD",
        "status": "PENDING",
        "dependencies": list(deps),
        "created_at": 0,
        "deadline": 1_000,
        "started_at": None,
        "completed_at": None,
        "retry_count": 0,
        "compensation_ticket_id": None,
        "estimated_duration_ms": 10,
    }
    return {**base, **fields}


DIAMOND = [
    ticket("a", estimated_duration_ms=5),
    ticket("b", "a", estimated_duration_ms=50),
    ticket("c", "a", estimated_duration_ms=10),
    ticket("d", "b", "c", estimated_duration_ms=5),
]


def test_layers_follow_the_deepest_dependency() -> None:
    assert plan_graph.layers(DIAMOND) == [["a"], ["b", "c"], ["d"]]
    # d also depends on a directly: still one past its deepest dependency
    skip = [*DIAMOND[:3], ticket("d", "a", "b")]
    assert plan_graph.depths(skip)["d"] == 2


def test_a_chain_of_a_thousand_does_not_recurse() -> None:
    chain = [ticket("0")] + [ticket(str(i), str(i - 1)) for i in range(1, 1_000)]
    assert plan_graph.depths(chain)["999"] == 999


def test_unknown_dependencies_and_cycles_do_not_break_the_drawing() -> None:
    odd = [ticket("a", "ghost"), ticket("b", "c"), ticket("c", "b")]
    depth = plan_graph.depths(odd)
    assert depth["a"] == 0
    assert set(depth) == {"a", "b", "c"}


def test_the_critical_path_is_the_longest_chain_by_duration() -> None:
    assert plan_graph.critical_path(DIAMOND, now_ms=0) == ["a", "b", "d"]
    # measured durations replace estimates once tickets ran: c took longer than b
    ran = [
        DIAMOND[0],
        {**DIAMOND[1], "started_at": 0, "completed_at": 20},
        {**DIAMOND[2], "started_at": 0, "completed_at": 90},
        DIAMOND[3],
    ]
    assert plan_graph.critical_path(ran, now_ms=100) == ["a", "c", "d"]


def test_compensation_tickets_stay_off_the_critical_path_and_are_linked() -> None:
    tickets = [
        ticket("a", status="COMPENSATED", compensation_ticket_id="ca"),
        ticket("b", "a", status="FAILED"),
        ticket("ca", task_type="COMPENSATE", estimated_duration_ms=10_000),
    ]
    graph = plan_graph.graph(tickets, now_ms=0)
    assert graph["critical_path"] == ["a", "b"]
    assert graph["nodes"]["ca"]["compensates"] == "a"
    assert graph["nodes"]["a"]["compensation_ticket_id"] == "ca"
    assert graph["edges"] == [["a", "b"]]


def test_sla_use_counts_to_the_end_or_to_now() -> None:
    done = ticket("a", status="COMPLETED", completed_at=250)
    assert plan_graph.sla_used(done, now_ms=900) == 0.25
    assert plan_graph.sla_used(ticket("b", status="RUNNING"), now_ms=900) == 0.9
    assert plan_graph.sla_used(ticket("c", created_at=None), now_ms=900) is None


def test_sla_state_of_a_workflow() -> None:
    assert plan_graph.sla_state([], 0) == "NONE"
    assert plan_graph.sla_state([ticket("a", status="RUNNING")], 100) == "OK"
    assert plan_graph.sla_state([ticket("a", status="RUNNING")], 850) == "AT_RISK"
    # a finished ticket near its deadline is not at risk any more; one past it is a violation
    assert plan_graph.sla_state([ticket("a", status="COMPLETED", completed_at=850)], 850) == "OK"
    late = ticket("a", status="COMPLETED", completed_at=1_200)
    assert plan_graph.sla_state([ticket("b", status="RUNNING"), late], 900) == "VIOLATED"


def test_the_outline_shows_an_approver_the_plan() -> None:
    outline = plan_outline(decision_doc("review-required"))
    assert outline is not None
    assert outline["risk_band"] in {"low", "medium", "high", "critical"}
    assert outline["tasks"] and {"task_id", "dependencies", "destructive"} <= set(
        outline["tasks"][0]
    )
    assert plan_outline({"decision_id": "x"}) is None

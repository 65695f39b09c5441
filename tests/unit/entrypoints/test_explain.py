"""`explain`: which workers could not take a ticket, and why, from the API's answers."""

from __future__ import annotations

import json
import uuid
from typing import Any

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.entrypoints import cli_scheduler
from orchestrator_dynamic.entrypoints.cli_scheduler import NOT_OFFERED, explain_doc
from orchestrator_dynamic.entrypoints.console import console
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0
from tests.scheduling_queue import fleet, long_ticket, urgent_ticket

TICKET = {
    "required_capabilities": ["testing"],
    "security_level": "CONFIDENTIAL",
    "parameters": {},
    "metadata": {"namespace": "ml", "priority_score": "0.5"},
}


def worker(worker_id: str, **fields: Any) -> dict[str, Any]:
    doc = {
        "worker_id": worker_id,
        "capabilities": ["testing"],
        "health": "HEALTHY",
        "namespace": "ml",
        "security_level": "RESTRICTED",
        "max_concurrent_tasks": 4,
        "active_tasks": 0,
    }
    return {**doc, **fields}


def candidate(worker_id: str, reason: str | None) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "capabilities": ["testing"],
        "health": "UNHEALTHY" if reason else "HEALTHY",
        "eligible": reason is None,
        "reason": reason,
        "agent_score": 0.5,
        "worker_score": 0.5,
    }


def test_every_worker_not_chosen_is_named_with_its_reason() -> None:
    allocation = {
        "worker_id": "w-ok",
        "allocation_method": "intelligent",
        "priority_score": 0.5,
        "candidates": [candidate("w-ok", None), candidate("w-sick", "unhealthy")],
    }
    fleet = [
        worker("w-ok"),
        worker("w-sick", health="UNHEALTHY"),
        worker("w-gpu", capabilities=["gpu"], active_tasks=4),  # busy, but that is not why
        worker("w-web", namespace="web"),
        worker("w-public", security_level="PUBLIC"),
        worker("w-late"),  # eligible now: registered after the allocation, or beyond the cap
    ]
    doc = explain_doc("t-1", {"ticket": TICKET, "allocation": allocation}, fleet)
    assert doc["worker_id"] == "w-ok"
    assert doc["filtered_out"] == [
        {"worker_id": "w-sick", "reason": "unhealthy", "by": "scheduler"},
        {"worker_id": "w-gpu", "reason": "missing capabilities: testing", "by": "registry"},
        {"worker_id": "w-late", "reason": NOT_OFFERED, "by": "registry"},
        {
            "worker_id": "w-public",
            "reason": "security level PUBLIC below CONFIDENTIAL",
            "by": "registry",
        },
        {"worker_id": "w-web", "reason": "namespace 'web' is not 'ml'", "by": "registry"},
    ]


def test_a_ticket_not_yet_allocated_has_nothing_filtered_out() -> None:
    doc = explain_doc("t-1", {"ticket": TICKET, "allocation": None}, [worker("w-1")])
    assert doc["candidates"] == [] and doc["filtered_out"] == []
    assert doc["priority_score"] == 0.5


async def test_explain_shows_each_candidates_queue_and_why_the_deadline_changed_the_pick() -> None:
    cap = f"cap-{uuid.uuid4().hex[:6]}"
    registry = BuiltinRegistry()
    for w in fleet(cap):
        await registry.register(w)
    sched = IntelligentScheduler(registry, MemoryCache(), SchedulerConfig(cache_ttl_seconds=0))
    for _ in range(3):
        await sched.allocate(long_ticket(cap), T0)
    t = urgent_ticket(cap)
    allocation = await sched.allocate(t, T0)
    # What the API answers: the stored explanation, decoded.
    detail = {
        "ticket": t.model_dump(mode="json"),
        "allocation": json.loads(json.dumps(allocation.explanation)),
    }
    doc = explain_doc(t.ticket_id, detail, [])
    assert doc["worker_id"] == "close"
    rows = {c["worker_id"]: c for c in doc["candidates"]}
    assert (rows["best"]["predicted_queue_ms"], rows["best"]["meets_deadline"]) == (45_000, False)
    assert (rows["close"]["predicted_load_pct"], rows["close"]["meets_deadline"]) == (0.0, True)
    queue = doc["queue"]
    assert (
        queue["changed"] and queue["score_pick"] == "best" and queue["close"] == ["best", "close"]
    )
    assert queue["duration_source"] == "model:v7" and queue["meets_deadline"] is True
    with console.capture() as out:
        cli_scheduler._print_queue(queue)
    text = out.get()
    assert "the ticket takes 10000 ms (model:v7)" in text
    assert "Pick (instead of best): best (best score) would finish after the deadline" in text
    assert explain_doc("t-2", {"ticket": {}, "allocation": None}, [])["queue"] is None

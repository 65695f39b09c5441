"""`explain`: which workers could not take a ticket, and why, from the API's answers."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.entrypoints.cli_scheduler import NOT_OFFERED, explain_doc

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

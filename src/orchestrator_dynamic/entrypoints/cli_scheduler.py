"""Scheduler commands over the HTTP API: `explain TICKET_ID` and `workers`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator_dynamic.entrypoints.api_client import ApiError
from orchestrator_dynamic.entrypoints.cli_ops import ApiUrl, AsJson, Token, client, fail
from orchestrator_dynamic.entrypoints.console import console, print_json, table

CANDIDATE_FIELDS = (
    "worker_id",
    "capabilities",
    "health",
    "eligible",
    "reason",
    "agent_score",
    "worker_score",
)


def explain_doc(ticket_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The public shape of `explain --json`, whatever else the API adds."""
    allocation = detail.get("allocation") or {}
    ticket = detail.get("ticket") or {}
    metadata = ticket.get("metadata") or {}
    score = allocation.get("priority_score", metadata.get("priority_score"))
    return {
        "ticket_id": ticket_id,
        "worker_id": allocation.get("worker_id", ticket.get("worker_id")),
        "allocation_method": allocation.get("allocation_method", metadata.get("allocation_method")),
        "priority_score": float(score) if score is not None else None,
        "candidates": [
            {k: c.get(k) for k in CANDIDATE_FIELDS} for c in allocation.get("candidates", [])
        ],
    }


def explain_command(
    ticket_id: str, as_json: AsJson = False, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Why a ticket went to its worker: every candidate, its scores, and why others were not."""
    api = client(api_url, token)
    try:
        doc = explain_doc(ticket_id, api.get(f"/tickets/{ticket_id}"))
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(doc)
        return
    console.print(
        f"{doc['ticket_id']} -> {doc['worker_id'] or 'no worker'} "
        f"({doc['allocation_method']}, priority {doc['priority_score']})"
    )
    rows = [
        (
            c["worker_id"],
            ", ".join(c["capabilities"] or []),
            c["health"],
            "yes" if c["eligible"] else "no",
            c["reason"] or "",
            c["agent_score"],
            c["worker_score"],
        )
        for c in doc["candidates"]
    ]
    columns = ["worker", "capabilities", "health", "eligible", "reason", "agent", "score"]
    console.print(table("Candidates, best first", columns, rows))


def workers_command(
    capability: Annotated[
        list[str] | None, typer.Option("--capability", help="Repeat to require several.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Registered worker agents with their health, load and capabilities."""
    api = client(api_url, token)
    try:
        found = api.get("/workers", capability=capability, namespace=namespace, limit=limit)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(found)
        return
    rows = [
        (
            w["worker_id"],
            w["health"],
            f"{w['active_tasks']}/{w['max_concurrent_tasks']}",
            ", ".join(w["capabilities"]),
            w["namespace"],
            w["security_level"],
            w["telemetry"]["success_rate"],
        )
        for w in found
    ]
    columns = ["worker", "health", "load", "capabilities", "namespace", "security", "success"]
    console.print(table(f"{len(found)} workers", columns, rows))

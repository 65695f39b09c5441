"""Scheduler commands over the HTTP API: `explain TICKET_ID` and `workers`."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, ineligibility
from orchestrator_dynamic.entrypoints.api_client import ApiError
from orchestrator_dynamic.entrypoints.cli_ops import ApiUrl, AsJson, Token, client, fail
from orchestrator_dynamic.entrypoints.console import console, print_json, table

FLEET_LIMIT = 500  # the API's page limit
NOT_OFFERED = (
    "not offered by the registry (beyond SERVICE_REGISTRY_MAX_RESULTS, or registered later)"
)

CANDIDATE_FIELDS = (
    "worker_id",
    "capabilities",
    "health",
    "eligible",
    "reason",
    "agent_score",
    "worker_score",
    # the queue estimate (null for workers whose load C3 did not read, see Scheduler)
    "in_flight",
    "predicted_queue_ms",
    "predicted_load_pct",
    "predicted_completion_ms",
    "meets_deadline",
)
QUEUE_FIELDS = (
    "deadline_ms",
    "ticket_duration_ms",
    "duration_source",
    "score_tolerance",
    "close",
    "changed",
    "score_pick",
    "reason",
    "predicted_queue_ms",
    "predicted_load_pct",
    "predicted_completion_ms",
    "meets_deadline",
)


def explain_doc(
    ticket_id: str, detail: dict[str, Any], fleet: list[dict[str, Any]]
) -> dict[str, Any]:
    """The public shape of `explain --json`, whatever else the API adds."""
    allocation = detail.get("allocation") or {}
    ticket = detail.get("ticket") or {}
    metadata = ticket.get("metadata") or {}
    score = allocation.get("priority_score", metadata.get("priority_score"))
    candidates = [{k: c.get(k) for k in CANDIDATE_FIELDS} for c in allocation.get("candidates", [])]
    return {
        "ticket_id": ticket_id,
        "worker_id": allocation.get("worker_id", ticket.get("worker_id")),
        "allocation_method": allocation.get("allocation_method", metadata.get("allocation_method")),
        "priority_score": float(score) if score is not None else None,
        "candidates": candidates,
        "filtered_out": filtered_out(ticket, candidates, fleet) if allocation else [],
        "queue": _queue(allocation.get("queue")),
    }


def _queue(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The deadline reasoning (None for allocations made before C3 recorded it)."""
    return {k: doc.get(k) for k in QUEUE_FIELDS} if doc else None


def filtered_out(
    ticket: dict[str, Any], candidates: list[dict[str, Any]], fleet: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Every worker that could not take the ticket, and why. The scheduler recorded the
    candidates the registry offered with their reasons at allocation time ("scheduler"); the
    registry never offers a worker lacking a capability, the namespace or the security level,
    so those are found in the fleet by the scheduler's own rule ("registry")."""
    out = [
        {"worker_id": str(c["worker_id"]), "reason": str(c["reason"]), "by": "scheduler"}
        for c in candidates
        if not c.get("eligible")
    ]
    offered = {c["worker_id"] for c in candidates}
    need = frozenset(ticket.get("required_capabilities") or [])
    level = SecurityLevel(ticket.get("security_level") or SecurityLevel.INTERNAL)
    params, metadata = ticket.get("parameters") or {}, ticket.get("metadata") or {}
    # The same namespace the scheduler asks for (services/scheduling.py ticket_namespace).
    namespace = metadata.get("namespace") or params.get("namespace") or None
    for worker in sorted(fleet, key=lambda w: str(w.get("worker_id"))):
        if worker.get("worker_id") in offered:
            continue
        # Health and load are the registry's no concern: only the static properties count here.
        profile = replace(_profile(worker), health=Health.HEALTHY, active_tasks=0)
        reason = ineligibility(profile, need, level, namespace) or NOT_OFFERED
        out.append({"worker_id": profile.worker_id, "reason": reason, "by": "registry"})
    return out


def _profile(worker: dict[str, Any]) -> WorkerProfile:
    return WorkerProfile(
        worker_id=str(worker["worker_id"]),
        capabilities=frozenset(worker.get("capabilities") or []),
        namespace=str(worker.get("namespace") or "default"),
        security_level=SecurityLevel(worker.get("security_level") or SecurityLevel.INTERNAL),
    )


def explain_command(
    ticket_id: str, as_json: AsJson = False, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Why a ticket went to its worker: every candidate, its scores, and why others were not."""
    api = client(api_url, token)
    try:
        detail = api.get(f"/tickets/{ticket_id}")
        fleet = api.get("/workers", limit=FLEET_LIMIT) if detail.get("allocation") else []
        doc = explain_doc(ticket_id, detail, fleet)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(doc)
        return
    console.print(
        f"{doc['ticket_id']} -> {doc['worker_id'] or 'no worker'} "
        f"({doc['allocation_method']}, priority {doc['priority_score']})",
        markup=False,
    )
    rows = [
        (
            c["worker_id"],
            c["capabilities"],
            c["health"],
            c["agent_score"],
            c["worker_score"],
            _or_dash(c["predicted_queue_ms"]),
            _or_dash(c["predicted_load_pct"]),
            _or_dash(c["predicted_completion_ms"]),
            _or_dash(c["meets_deadline"]),
        )
        for c in doc["candidates"]
        if c["eligible"]
    ]
    if rows:
        columns = ["worker", "capabilities", "health", "agent", "score"]
        columns += ["queue ms", "load %", "completes at", "meets deadline"]
        console.print(table("Candidates, best first", columns, rows))
    else:
        console.print("No eligible candidate.")
    if doc["queue"]:
        _print_queue(doc["queue"])
    if doc["filtered_out"]:
        dropped = [(w["worker_id"], w["reason"], w["by"]) for w in doc["filtered_out"]]
        console.print(table("Filtered out", ["worker", "reason", "by"], dropped))


def _or_dash(value: object) -> object:
    return "-" if value is None else value


def _print_queue(queue: dict[str, Any]) -> None:
    console.print(
        f"Deadline {queue['deadline_ms']}: the ticket takes {queue['ticket_duration_ms']} ms "
        f"({queue['duration_source']}); scores within {queue['score_tolerance']} are close: "
        f"{', '.join(queue['close'] or []) or 'none'}.",
        markup=False,
    )
    moved = f" (instead of {queue['score_pick']})" if queue["changed"] else ""
    console.print(f"Pick{moved}: {queue['reason']}.", markup=False)


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
            w["capabilities"],
            w["namespace"],
            w["security_level"],
            w["telemetry"]["success_rate"],
        )
        for w in found
    ]
    columns = ["worker", "health", "load", "capabilities", "namespace", "security", "success"]
    console.print(table(f"{len(found)} workers", columns, rows))

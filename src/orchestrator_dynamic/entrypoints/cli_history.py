"""`history ...` (queries over the API) and `store ...` (retention and spool, on the store itself)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Annotated, Any, TypeVar

import structlog
import typer

from orchestrator_dynamic.domain.errors import DependencyDown
from orchestrator_dynamic.domain.model import RiskBand, TaskType, TicketStatus
from orchestrator_dynamic.entrypoints.api_client import ApiError
from orchestrator_dynamic.entrypoints.cli_ops import ApiUrl, AsJson, Token, client, fail
from orchestrator_dynamic.entrypoints.console import (
    choice,
    console,
    die,
    err_console,
    print_json,
    settings_or_exit,
    table,
)
from orchestrator_dynamic.flow.payloads import WorkflowStatus

T = TypeVar("T")
history_app = typer.Typer(help="History from the audit store (through the API).")
store_app = typer.Typer(help="Retention and the fail-open spool of the audit store.")

Since = Annotated[str | None, typer.Option(help="ISO-8601: records at or after it.")]
Until = Annotated[str | None, typer.Option(help="ISO-8601: records before it.")]
Limit = Annotated[int, typer.Option(min=1, max=500, help="Page size.")]
Offset = Annotated[int, typer.Option(min=0, help="Records to skip.")]

COLUMNS = {
    "workflows": ("workflow_id", "status", "consolidated_at", "sla_status", "incident_id"),
    "sla-violations": ("workflow_id", "status", "consolidated_at", "sla_status"),
    "incidents": ("incident_id", "workflow_id", "type", "severity", "timestamp"),
    "validations": ("workflow_id", "plan_id", "validation_result", "timestamp"),
    "tickets": ("ticket_id", "task_type", "status", "worker_id", "actual_duration_ms"),
}


def _logs_to_stderr() -> None:
    # stdout carries the answer (`--json | jq`); progress logs of the store go to stderr.
    # The factory reads sys.stderr at each use, so a replaced stream is never written after close.
    structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sys.stderr))


def _show(
    kind: str, path: str, as_json: bool, api_url: str | None, token: str | None, **params: Any
) -> None:
    api = client(api_url, token)
    try:
        rows: list[dict[str, Any]] = api.get(path, **params)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(rows)
        return
    columns = COLUMNS[kind]
    console.print(
        table(f"{kind} ({len(rows)})", columns, [[r.get(c) for c in columns] for r in rows])
    )


@history_app.command("workflows")
def workflows_command(
    status: Annotated[
        str | None, typer.Option(help="Any case: " + ", ".join(WorkflowStatus))
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Consolidated workflows by status and time window."""
    _show(
        "workflows",
        "/history/workflows",
        as_json,
        api_url,
        token,
        status=choice(status, WorkflowStatus, "--status"),
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@history_app.command("sla-violations")
def sla_command(
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Workflows that ended with SLA violations."""
    _show(
        "sla-violations",
        "/history/sla-violations",
        as_json,
        api_url,
        token,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@history_app.command("incidents")
def incidents_command(
    severity: Annotated[str | None, typer.Option(help="Any case: " + ", ".join(RiskBand))] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Incidents by severity and time window."""
    _show(
        "incidents",
        "/history/incidents",
        as_json,
        api_url,
        token,
        severity=choice(severity, RiskBand, "--severity"),
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@history_app.command("validations")
def validations_command(
    plan_id: Annotated[str, typer.Argument(help="The plan whose verdicts to list.")],
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Every validation verdict recorded for one plan."""
    _show(
        "validations",
        f"/history/validations/{plan_id}",
        as_json,
        api_url,
        token,
        limit=limit,
        offset=offset,
    )


@history_app.command("tickets")
def tickets_command(
    task_type: Annotated[str | None, typer.Option(help="Any case: " + ", ".join(TaskType))] = None,
    status: Annotated[str | None, typer.Option(help="Any case: " + ", ".join(TicketStatus))] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Ticket history by task type, status and time window (the training data)."""
    _show(
        "tickets",
        "/history/tickets",
        as_json,
        api_url,
        token,
        task_type=choice(task_type, TaskType, "--task-type"),
        status=choice(status, TicketStatus, "--status"),
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@store_app.command("purge")
def purge_command(
    days: Annotated[
        str | None,
        typer.Option(help='JSON {"<collection>": <days>}; default STORE_RETENTION_DAYS.'),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Delete records older than each collection's retention, on the configured store."""
    from orchestrator_dynamic.services.retention import check_retention

    _logs_to_stderr()
    settings = settings_or_exit()
    try:
        retention = check_retention(json.loads(days)) if days else settings.store_retention_days
    except ValueError as exc:
        die(f"--days: {exc}", 2)
    if not retention:
        err_console.print("no retention configured (STORE_RETENTION_DAYS or --days): nothing to do")
        return
    purged = _on_store(lambda: _purge(settings, retention))
    if as_json:
        print_json(purged)
        return
    console.print(table("purged", ["collection", "records"], sorted(purged.items())))


def _on_store(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one store command: a store that cannot be reached or opened is one line, exit 1;
    a STORE_URL this build cannot use is a configuration error, exit 2."""
    from orchestrator_dynamic.wiring import UnsupportedBackend

    try:
        return asyncio.run(work())
    except DependencyDown as exc:
        die(str(exc), 1)
    except OSError as exc:  # DATA_DIR (store file, spool) not writable
        die(f"{exc} (check DATA_DIR)", 1)
    except UnsupportedBackend as exc:
        die(str(exc), 2)


async def _purge(settings: Any, retention: dict[str, float]) -> dict[str, int]:
    from orchestrator_dynamic import wiring
    from orchestrator_dynamic.bootstrap import now_ms
    from orchestrator_dynamic.services.retention import purge_expired

    store = wiring.build_store(wiring.store_url(settings), settings)
    async with AsyncExitStack() as stack:
        await store.start()
        stack.push_async_callback(store.stop)
        return await purge_expired(store, retention, now_ms())


@store_app.command("spool")
def spool_command(
    drain: Annotated[bool, typer.Option("--drain", help="Replay it into the store now.")] = False,
    as_json: AsJson = False,
) -> None:
    """Writes waiting in the local spool (and set aside as refused); --drain replays them now."""
    _logs_to_stderr()
    settings = settings_or_exit()
    doc = _on_store(lambda: _spool(settings, drain))
    if as_json:
        print_json(doc)
    else:
        console.print(", ".join(f"{k} {v}" for k, v in doc.items()))
    raise typer.Exit(0 if doc["depth"] == 0 or not drain else 3)


async def _spool(settings: Any, drain: bool) -> dict[str, int]:
    from orchestrator_dynamic import wiring
    from orchestrator_dynamic.adapters.store.resilient import ResilientStore
    from orchestrator_dynamic.adapters.store.spool import SPOOL_FILE, Spool

    inner = wiring.build_store(wiring.store_url(settings), settings)
    # Not started: no background replayer here, this command replays once in the foreground.
    store = ResilientStore(inner, Spool(settings.data_path(SPOOL_FILE)), settings.retry)
    await store.spool.start()
    try:
        replayed = await store.drain() if drain else 0
        refused = len(await store.spool.refused())
        return {"depth": await store.depth(), "replayed": replayed, "refused": refused}
    finally:
        await store.stop()

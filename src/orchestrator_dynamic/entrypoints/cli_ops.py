"""Operator commands over the HTTP API: submit, status, list, approve, reject, cancel, explain."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator_dynamic.entrypoints.api_client import ApiClient, ApiError
from orchestrator_dynamic.entrypoints.console import (
    choice,
    console,
    die,
    err_console,
    local_time,
    print_json,
    settings_or_exit,
    table,
)
from orchestrator_dynamic.flow.payloads import WorkflowStatus

TERMINAL = {"COMPLETED", "FAILED", "REFUSED", "REJECTED", "CANCELLED", "SKIPPED"}
# `submit --wait` exit codes (README, CLI section).
EXIT_COMPLETED = 0
EXIT_ERROR = 1  # the file or the API could not be read, or the API refused the request
EXIT_INVALID = 2  # the API refused the decision as invalid
EXIT_NOT_COMPLETED = 3  # any other outcome: failed, refused, rejected, cancelled, skipped,
# still waiting for approval, or not ended within --timeout
TICKET_FIELDS = (
    "ticket_id",
    "task_id",
    "status",
    "worker_id",
    "started_at",
    "completed_at",
    "retry_count",
    "compensation_ticket_id",
)

ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", envvar="ORCHESTRATOR_API_URL", help="Default: the local `up`."),
]
Token = Annotated[
    str | None, typer.Option("--token", envvar="ORCHESTRATOR_API_TOKEN", help="Bearer token.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
Reason = Annotated[str, typer.Option("--reason", help="Why; kept with the decision.")]


def client(api_url: str | None, token: str | None) -> ApiClient:
    if not api_url:
        settings = settings_or_exit()
        api_url = f"http://{settings.api_host}:{settings.api_port}"
    return ApiClient(api_url, token)


def fail(exc: ApiError) -> typer.Exit:
    # The problem's detail repeats its errors: with errors, the title and one line each.
    message = escape(exc.title if exc.errors else str(exc))
    err_console.print(f"[red]error[/red] {message}", soft_wrap=True)
    for error in exc.errors:
        line = f"  {error.get('field') or '<body>'}: {error.get('reason')}"
        err_console.print(line, soft_wrap=True, markup=False)
    return typer.Exit(EXIT_ERROR if exc.status in (0, 401, 403, 404, 409, 503) else EXIT_INVALID)


def status_doc(view: dict[str, Any]) -> dict[str, Any]:
    """The public shape of `status --json` and `submit --json`."""
    return {
        "workflow_id": view["workflow_id"],
        "status": view["status"],
        "step": view.get("step"),
        "tickets": [{k: t.get(k) for k in TICKET_FIELDS} for t in view.get("tickets", [])],
        "incidents": view.get("incidents", []),
        "waiting": view.get("waiting"),
    }


def show_status(view: dict[str, Any]) -> None:
    head = f"{view['workflow_id']}: {view['status']}"
    if view.get("step"):
        head += f" (step {view['step']})"
    if view.get("reason"):
        head += f" - {view['reason']}"
    if view.get("waiting"):  # the current step retries after a dependency outage
        head += f" - {view['waiting']['message']} ({view['waiting']['reason']})"
    console.print(head, soft_wrap=True, markup=False, highlight=False)
    tickets = view.get("tickets", [])
    if tickets:
        rows = [
            (
                t.get("task_id"),
                t.get("status"),
                t.get("worker_id"),
                t.get("retry_count"),
                t.get("started_at"),
                _took(t.get("started_at"), t.get("completed_at")),
                t.get("ticket_id"),
            )
            for t in tickets
        ]
        columns = ["task", "status", "worker", "retries", "started_at", "took", "ticket_id"]
        console.print(table("", columns, rows))
    for incident in view.get("incidents", []):
        words = [incident.get("incident_type"), incident.get("incident_id")]
        if incident.get("timestamp"):
            words.append(f"at {local_time(incident['timestamp'])}")
        console.print("incident " + " ".join(str(w) for w in words if w), markup=False)


def _took(started: int | None, completed: int | None) -> str:
    if started is None or completed is None:
        return ""
    return f"{(completed - started) / 1000:.1f} s"


def submit_command(
    file: Annotated[Path, typer.Argument(help="A ConsolidatedDecision as JSON.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the workflow to its end.")] = False,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 600.0,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Submit a decision; with --wait, show progress until the workflow ends (exit 0 when it
    ended COMPLETED, 3 for any other outcome)."""
    try:
        body = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        die(f"cannot read {file}: {exc}", EXIT_ERROR)
    api = client(api_url, token)
    accepted: dict[str, Any] = {}
    try:
        accepted = api.post("/decisions", body)
        if not wait:
            print_json(accepted) if as_json else console.print(
                f"{accepted['workflow_id']}: {accepted['disposition']} ({accepted['status']})",
                markup=False,
            )
            return
        if accepted["disposition"] == "skipped":  # a rejected decision: no workflow to follow
            view: dict[str, Any] = {"workflow_id": accepted["workflow_id"], "status": "SKIPPED"}
        else:
            view = follow(api, accepted["workflow_id"], timeout, quiet=as_json)
    except ApiError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:  # Ctrl-C stops following, not the workflow
        following = accepted.get("workflow_id")
        die(
            f"stopped following; it keeps running: `status {following}`"
            if following
            else "interrupted",
            130,
        )
    finally:
        api.close()
    print_json(status_doc(view)) if as_json else show_status(view)
    if view["status"] == "AWAITING_APPROVAL":
        err_console.print(
            f"waiting for approval: `approve {view['workflow_id']}` or `reject {view['workflow_id']}`",
            markup=False,
        )
    elif view["status"] not in TERMINAL:
        err_console.print(f"still {view['status']} after {timeout:g} s", markup=False)
    raise typer.Exit(EXIT_COMPLETED if view["status"] == "COMPLETED" else EXIT_NOT_COMPLETED)


def follow(api: ApiClient, workflow_id: str, timeout: float, quiet: bool) -> dict[str, Any]:
    """The workflow's view once it ended, waits for approval, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, disable=quiet, transient=True) as progress:
        bar = progress.add_task(workflow_id, total=None)
        while True:
            view: dict[str, Any] = api.get(f"/workflows/{workflow_id}")
            done = sum(1 for t in view["tickets"] if t["status"] in ("COMPLETED", "COMPENSATED"))
            progress.update(
                bar,
                total=len(view["tickets"]) or None,
                completed=done,
                description=f"{workflow_id} {view['status']} {view.get('step', '')}",
            )
            if view["status"] in TERMINAL or view["status"] == "AWAITING_APPROVAL":
                return view
            if time.monotonic() > deadline:
                return view
            time.sleep(0.25)


def status_command(
    workflow_id: str, as_json: AsJson = False, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Status, current step and tickets of a workflow."""
    api = client(api_url, token)
    try:
        view = api.get(f"/workflows/{workflow_id}")
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    print_json(status_doc(view)) if as_json else show_status(view)


def list_command(
    status: Annotated[
        str | None, typer.Option(help="Only this status (any case): " + ", ".join(WorkflowStatus))
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Workflows, newest first."""
    wanted = choice(status, WorkflowStatus, "--status")
    api = client(api_url, token)
    try:
        rows = api.get("/workflows", status=wanted, limit=limit)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(rows)
        return
    columns = ["workflow_id", "plan_id", "status", "started_at", "sla_violations"]
    console.print(table("Workflows", columns, [[r.get(c) for c in columns] for r in rows]))


def _decide(
    verb: str, workflow_id: str, reason: str, api_url: str | None, token: str | None
) -> None:
    api = client(api_url, token)
    try:
        api.post(f"/workflows/{workflow_id}/{verb}", {"by": "cli", "reason": reason})
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    console.print(f"{workflow_id}: {verb} sent", markup=False)


def approve_command(
    workflow_id: str, reason: Reason = "", api_url: ApiUrl = None, token: Token = None
) -> None:
    """Approve a workflow that waits for a human."""
    _decide("approve", workflow_id, reason, api_url, token)


def reject_command(
    workflow_id: str, reason: Reason = "", api_url: ApiUrl = None, token: Token = None
) -> None:
    """Reject a workflow that waits for a human."""
    _decide("reject", workflow_id, reason, api_url, token)


def cancel_command(
    workflow_id: str, reason: Reason = "", api_url: ApiUrl = None, token: Token = None
) -> None:
    """Cancel a running workflow and its outstanding tickets."""
    _decide("cancel", workflow_id, reason, api_url, token)

"""Operator commands over the HTTP API: submit, status, list, approve, reject, cancel, explain."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator_dynamic.entrypoints.api_client import ApiClient, ApiError
from orchestrator_dynamic.entrypoints.console import console, err_console, print_json, table

TERMINAL = {"COMPLETED", "FAILED", "REFUSED", "REJECTED", "CANCELLED", "SKIPPED"}
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
        from orchestrator_dynamic.settings import load_settings

        settings = load_settings()
        api_url = f"http://{settings.api_host}:{settings.api_port}"
    return ApiClient(api_url, token)


def fail(exc: ApiError) -> typer.Exit:
    err_console.print(f"[red]error[/red] {exc}")
    for error in exc.errors:
        err_console.print(f"  {error.get('field') or '<body>'}: {error.get('reason')}")
    return typer.Exit(1 if exc.status in (0, 401, 403, 404, 409, 503) else 2)


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
    head = f"{view['workflow_id']}: {view['status']} (step {view.get('step')})"
    if view.get("reason"):
        head += f" - {view['reason']}"
    if view.get("waiting"):  # the current step retries after a dependency outage
        head += f" - {view['waiting']['message']} ({view['waiting']['reason']})"
    rows = [
        (
            t.get("task_id"),
            t.get("status"),
            t.get("worker_id"),
            t.get("retry_count"),
            t.get("ticket_id"),
        )
        for t in view.get("tickets", [])
    ]
    console.print(table(head, ["task", "status", "worker", "retries", "ticket_id"], rows))
    for incident in view.get("incidents", []):
        console.print(
            f"[yellow]incident[/yellow] {incident.get('incident_type', '')} {incident.get('incident_id')}"
        )


def submit_command(
    file: Annotated[Path, typer.Argument(help="A ConsolidatedDecision as JSON.")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the workflow to its end.")] = False,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 600.0,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Submit a decision; with --wait, show progress until the workflow ends."""
    try:
        body = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]cannot read {file}[/red]: {exc}")
        raise typer.Exit(1) from exc
    api = client(api_url, token)
    try:
        accepted = api.post("/decisions", body)
        if not wait or accepted["disposition"] == "skipped":
            print_json(accepted) if as_json else console.print(
                f"{accepted['workflow_id']}: {accepted['disposition']} ({accepted['status']})"
            )
            return
        view = follow(api, accepted["workflow_id"], timeout, quiet=as_json)
    except ApiError as exc:
        raise fail(exc) from exc
    print_json(status_doc(view)) if as_json else show_status(view)
    raise typer.Exit(0 if view["status"] == "COMPLETED" else 3)


def follow(api: ApiClient, workflow_id: str, timeout: float, quiet: bool) -> dict[str, Any]:
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
                raise ApiError(0, "timed out", f"{workflow_id} still {view['status']}", [])
            time.sleep(0.25)


def status_command(
    workflow_id: str, as_json: AsJson = False, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Status, current step and tickets of a workflow."""
    try:
        view = client(api_url, token).get(f"/workflows/{workflow_id}")
    except ApiError as exc:
        raise fail(exc) from exc
    print_json(status_doc(view)) if as_json else show_status(view)


def list_command(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Workflows, newest first."""
    try:
        rows = client(api_url, token).get("/workflows", status=status, limit=limit)
    except ApiError as exc:
        raise fail(exc) from exc
    if as_json:
        print_json(rows)
        return
    columns = ["workflow_id", "plan_id", "status", "started_at", "sla_violations"]
    console.print(table("Workflows", columns, [[r.get(c) for c in columns] for r in rows]))


def _decide(
    verb: str, workflow_id: str, reason: str, api_url: str | None, token: str | None
) -> None:
    try:
        body = {"by": "cli", "reason": reason}
        client(api_url, token).post(f"/workflows/{workflow_id}/{verb}", body)
    except ApiError as exc:
        raise fail(exc) from exc
    console.print(f"{workflow_id}: {verb} sent")


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

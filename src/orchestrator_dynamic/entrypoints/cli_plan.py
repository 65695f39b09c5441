"""`orchestrator-dynamic plan FILE`: C1 + C2 as a dry run, nothing executed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.domain.model import ExecutionTicket, FinalDecision
from orchestrator_dynamic.entrypoints.cli_policy import policy_issues
from orchestrator_dynamic.entrypoints.console import console, print_issues, print_json, table
from orchestrator_dynamic.services.planning import PlannedDecision, PlanningConfig, plan_document
from orchestrator_dynamic.settings import load_settings

EXIT_REFUSED = 2
EXIT_UNREADABLE = 1


def plan_command(
    file: Annotated[Path, typer.Argument(help="A ConsolidatedDecision as JSON (wire format).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Validate a decision (C1) and show the tickets it would produce (C2); runs nothing."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        issue = {"code": "file.unreadable", "message": str(exc), "path": str(file)}
        _fail(as_json, [issue], EXIT_UNREADABLE)
    settings = load_settings()
    config = PlanningConfig(
        settings.sla_policy(), settings.priority_weights(), settings.task_types()
    )
    now = int(time.time() * 1000)
    try:
        planned = plan_document(raw, now, config)
    except MalformedMessage as exc:
        # A file that is not JSON at all is unreadable; a readable one with bad fields is refused.
        unreadable = all(i.code.startswith("json.") for i in exc.issues)
        _fail(
            as_json,
            [i.as_dict() for i in exc.issues],
            EXIT_UNREADABLE if unreadable else EXIT_REFUSED,
        )
    except PlanRefused as exc:
        _fail(as_json, [i.as_dict() for i in exc.issues], EXIT_REFUSED)
    if violations := policy_issues(planned, now, settings):
        _fail(as_json, violations, EXIT_REFUSED)
    _show(planned, as_json)


def disposition(planned: PlannedDecision) -> str:
    """What the orchestrator would do with this decision."""
    decision = planned.decision.final_decision
    if decision is FinalDecision.REJECT:
        return "skip"
    needs_human = (
        decision is FinalDecision.REVIEW_REQUIRED or planned.decision.requires_human_review
    )
    if needs_human or planned.plan.needs_approval:
        return "await_approval"
    return "run"


def _show(planned: PlannedDecision, as_json: bool) -> None:
    tickets = [t.model_dump(mode="json") for t in planned.tickets]
    if as_json:
        doc: dict[str, Any] = {"valid": True, "errors": [], "tickets": tickets}
        doc["disposition"] = disposition(planned)
        print_json(doc)
        return
    names = {t.ticket_id: t.task_id for t in planned.tickets}
    rows = [_row(t, names) for t in planned.tickets]
    columns = ["task", "ticket", "type", "priority", "timeout", "retries", "delivery", "needs"]
    title = (
        f"{planned.decision.decision_id}: {len(rows)} tickets, risk band {planned.plan.risk_band}, "
        f"disposition {disposition(planned)}"
    )
    console.print(table(title, columns, rows))


def _row(t: ExecutionTicket, names: dict[str, str]) -> list[str]:
    return [
        t.task_id,
        t.ticket_id[:8],  # the full ids are in --json
        t.task_type.value,
        t.priority.value,
        f"{t.sla.timeout_ms / 1000:g} s",
        str(t.sla.max_retries),
        t.qos.delivery_mode.value.lower().replace("_", "-"),
        ", ".join(names[d] for d in t.dependencies) or "-",
    ]


def _fail(as_json: bool, errors: list[dict[str, str]], code: int) -> Any:
    if as_json:
        print_json({"valid": False, "errors": errors, "tickets": []})
    else:
        print_issues(errors, "Refused" if code == EXIT_REFUSED else "Unreadable")
    raise typer.Exit(code)

"""`orchestrator-dynamic plan FILE`: C1 + C2 as a dry run, nothing executed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from orchestrator_dynamic.domain.decode import hash_matches
from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused, PolicyUnavailable
from orchestrator_dynamic.domain.model import ExecutionTicket, FinalDecision
from orchestrator_dynamic.entrypoints.cli_policy import policy_issues, unique
from orchestrator_dynamic.entrypoints.console import (
    console,
    print_issues,
    print_json,
    settings_or_exit,
    table,
)
from orchestrator_dynamic.services.planning import PlannedDecision, PlanningConfig, plan_document

EXIT_REFUSED = 2
EXIT_UNREADABLE = 1
HASH_MISMATCH = {"code": "decision.hash_mismatch", "path": "hash"}
HASH_MESSAGE = "integrity hash does not match"
HASH_WARNING = HASH_MESSAGE + " (runs with a warning; DECISION_HASH_VERIFY=true refuses it)"


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
    settings = settings_or_exit()
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
    warnings: list[dict[str, str]] = []
    if not hash_matches(planned.decision):
        # As the service does on submit: refused under DECISION_HASH_VERIFY, else run with a warning.
        if settings.decision_hash_verify:
            _fail(as_json, [dict(HASH_MISMATCH, message=HASH_MESSAGE)], EXIT_REFUSED)
        warnings.append(dict(HASH_MISMATCH, message=HASH_WARNING))
    try:
        violations, policy_warnings = policy_issues(planned, now, settings)
    except PolicyUnavailable as exc:  # the policies themselves cannot be read (OPA_POLICY_DIR)
        issue = {"code": "policy.unavailable", "message": exc.reason, "path": "OPA_POLICY_DIR"}
        _fail(as_json, [issue], EXIT_UNREADABLE)
    if violations:
        _fail(as_json, violations, EXIT_REFUSED, warnings + policy_warnings)
    _show(planned, as_json, warnings + policy_warnings)


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


def _show(planned: PlannedDecision, as_json: bool, warnings: list[dict[str, str]]) -> None:
    tickets = [t.model_dump(mode="json") for t in planned.tickets]
    if as_json:
        doc: dict[str, Any] = {"valid": True, "errors": [], "warnings": warnings}
        doc["tickets"] = tickets
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
    if warnings:
        print_issues(warnings, "Warnings")


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


def _fail(
    as_json: bool,
    errors: list[dict[str, str]],
    code: int,
    warnings: list[dict[str, str]] | None = None,
) -> NoReturn:
    # The domain checks the decision's and its plan's copy of a field alike: one line each.
    errors, warnings = unique(errors), warnings or []
    if as_json:
        print_json({"valid": False, "errors": errors, "warnings": warnings, "tickets": []})
    else:
        print_issues(errors, "Refused" if code == EXIT_REFUSED else "Unreadable")
        if warnings:
            print_issues(warnings, "Warnings")
    raise typer.Exit(code)

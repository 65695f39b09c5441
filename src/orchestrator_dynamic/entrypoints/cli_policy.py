"""`orchestrator-dynamic policy test|eval`, and the policy pass of the `plan` dry run."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated

import typer

from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.policy.rego_tests import run_rego_tests
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.entrypoints.console import (
    console,
    die,
    print_json,
    settings_or_exit,
    table,
)
from orchestrator_dynamic.services.planning import PlannedDecision
from orchestrator_dynamic.services.policy import PREFIX, PlanContext, Verdict
from orchestrator_dynamic.settings import Settings

policy_app = typer.Typer(help="Rego policies: run their tests, evaluate one decision.")

DirOption = Annotated[
    Path | None, typer.Option("--dir", help="Policy directory (default OPA_POLICY_DIR).")
]


@policy_app.command("test")
def test_command(
    directory: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run every `test_*` rule of every package; exit 1 when one fails."""
    folder = directory or settings_or_exit().opa_policy_dir
    try:
        results = run_rego_tests(folder)
    except PolicyUnavailable as exc:
        die(exc.reason, 2)
    failed = [r for r in results if not r.passed]
    if as_json:
        print_json({"passed": len(results) - len(failed), "failed": [vars(r) for r in failed]})
    else:
        rows = [[r.package, r.name, "PASS" if r.passed else f"FAIL {r.error}"] for r in results]
        console.print(table(f"{folder}", ["package", "test", "result"], rows))
        console.print(f"{len(results) - len(failed)}/{len(results)} passed")
    raise typer.Exit(1 if failed else 0)


@policy_app.command("eval")
def eval_command(
    package: Annotated[str, typer.Argument(help="e.g. neuralhive/orchestrator/resource_limits")],
    input_file: Annotated[Path, typer.Option("--input", help="The input document (JSON).")],
    directory: DirOption = None,
) -> None:
    """Evaluate one package's decision for one input; prints the decision as JSON.
    Exit 0 allowed, 2 denied, 1 when there is no decision (unknown package, unreadable input
    or policies)."""
    try:
        doc = json.loads(input_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        die(f"--input {input_file}: {exc}", 1)
    if not isinstance(doc, dict):
        die("--input: the input document must be a JSON object", 1)
    name = package if "/" in package else PREFIX + package
    folder = directory or settings_or_exit().opa_policy_dir
    try:
        engine = EmbeddedPolicyEngine(folder)
        decision = asyncio.run(engine.evaluate(name, doc))
    except PolicyUnavailable as exc:  # no decision at all: an error, not a denial
        die(exc.reason, 1)
    print_json(
        {
            "allow": decision.allow,
            "violations": [vars(v) for v in decision.violations],
            "warnings": list(decision.warnings),
            "flags": dict(decision.flags),
        }
    )
    raise typer.Exit(0 if decision.allow else 2)


def policy_issues(
    planned: PlannedDecision, now_ms: int, settings: Settings
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every policy that applies before dispatch (C1 on the plan, C3 on each ticket), as the
    dry run's errors and warnings. A plan that waits for approval is checked as if approved:
    the workflow never reaches C3 without that approval."""
    return asyncio.run(_policy_issues(planned, now_ms, settings))


async def _policy_issues(
    planned: PlannedDecision, now_ms: int, settings: Settings
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    from orchestrator_dynamic.wiring import open_policy

    async with AsyncExitStack() as stack:
        validator = await open_policy(settings, None, stack)
        if validator is None:
            return [], []
        verdicts: list[Verdict] = [
            await validator.validate_plan(planned.plan, planned.tickets, now_ms)
        ]
        approved = True if planned.plan.needs_approval else None
        context = PlanContext.of(planned.plan, approved)
        for ticket in planned.tickets:
            verdicts.append(await validator.validate_ticket(ticket, now_ms, context))
    # The plan check and each ticket's check see the same ticket: one line per finding.
    issues = [i.as_dict() for v in verdicts for i in v.issues()]
    return unique(issues), unique([w for v in verdicts for w in _warnings(v)])


def _warnings(verdict: Verdict) -> list[dict[str, str]]:
    out = []
    for package, decision in verdict.decisions:
        name = package.rsplit("/", 1)[-1]  # as violations name their policy
        out += [
            {"code": f"policy.{name}.warning", "message": w, "path": name}
            for w in decision.warnings
        ]
    return out


def unique(issues: list[dict[str, str]]) -> list[dict[str, str]]:
    """Issues with the same code and message once, naming every field it was found at."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for issue in issues:
        key = (issue.get("code", ""), issue.get("message", ""))
        if key not in seen:
            seen[key] = dict(issue)
        elif path := issue.get("path"):
            known = seen[key].get("path", "")
            if path not in known.split(", "):
                seen[key]["path"] = f"{known}, {path}" if known else path
    return list(seen.values())

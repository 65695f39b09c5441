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
from orchestrator_dynamic.entrypoints.console import console, err_console, print_json, table
from orchestrator_dynamic.services.planning import PlannedDecision
from orchestrator_dynamic.services.policy import PREFIX, PlanContext, Verdict
from orchestrator_dynamic.settings import Settings, load_settings

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
    folder = directory or load_settings().opa_policy_dir
    try:
        results = run_rego_tests(folder)
    except PolicyUnavailable as exc:
        err_console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from exc
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
    """Evaluate one package's decision for one input; prints the decision as JSON."""
    try:
        doc = json.loads(input_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        err_console.print(f"[red]--input {input_file}: {exc}[/red]")
        raise typer.Exit(1) from exc
    if not isinstance(doc, dict):
        err_console.print("[red]--input: the input document must be a JSON object[/red]")
        raise typer.Exit(1)
    name = package if "/" in package else PREFIX + package
    try:
        engine = EmbeddedPolicyEngine(directory or load_settings().opa_policy_dir)
        decision = asyncio.run(engine.evaluate(name, doc))
    except PolicyUnavailable as exc:
        err_console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from exc
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
) -> list[dict[str, str]]:
    """Every policy that applies before dispatch (C1 on the plan, C3 on each ticket), as the
    dry run's errors. A plan that waits for approval is checked as if approved: the workflow
    never reaches C3 without that approval."""
    return asyncio.run(_policy_issues(planned, now_ms, settings))


async def _policy_issues(
    planned: PlannedDecision, now_ms: int, settings: Settings
) -> list[dict[str, str]]:
    from orchestrator_dynamic.bootstrap import open_policy

    async with AsyncExitStack() as stack:
        validator = await open_policy(settings, None, stack)
        if validator is None:
            return []
        verdicts: list[Verdict] = [
            await validator.validate_plan(planned.plan, planned.tickets, now_ms)
        ]
        approved = True if planned.plan.needs_approval else None
        context = PlanContext.of(planned.plan, approved)
        for ticket in planned.tickets:
            verdicts.append(await validator.validate_ticket(ticket, now_ms, context))
    return _unique([i.as_dict() for v in verdicts for i in v.issues()])


def _unique(issues: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for issue in issues:
        seen.setdefault(json.dumps(issue, sort_keys=True), issue)
    return list(seen.values())

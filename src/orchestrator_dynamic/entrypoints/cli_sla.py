"""`orchestrator-dynamic sla`: error budgets, burn rates and at-risk workflows, over the API."""

from __future__ import annotations

from typing import Any

from orchestrator_dynamic.entrypoints.api_client import ApiError
from orchestrator_dynamic.entrypoints.cli_ops import ApiUrl, AsJson, Token, client, fail
from orchestrator_dynamic.entrypoints.console import console, print_json, table


def sla_command(api_url: ApiUrl = None, token: Token = None, as_json: AsJson = False) -> None:
    """Show error budgets, burn rates (1 h / 6 h / 24 h) and workflows at risk of missing SLAs."""
    api = client(api_url, token)
    try:
        view: dict[str, Any] = api.get("/sla/budgets")
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(view)
        return
    show(view)


def show(view: dict[str, Any]) -> None:
    budgets = [
        (
            b["service_name"],
            b["slo_id"],
            f"{b['target']:.4g}",
            f"{b['budget_remaining_percent']:.1f}%",
            b["status"],
            " / ".join(f"{h}h {r:.2f}x" for h, r in b["burn_rates"].items()),
            b["source"],
        )
        for b in view["budgets"]
    ]
    heads = ["service", "SLO", "target", "budget left", "status", "burn rate", "source"]
    console.print(table("Error budgets", heads, budgets))
    risky = [
        (
            w["workflow_id"],
            w["status"],
            f"{w['max_consumed']:.0%}",
            _seconds(w["nearest_remaining_ms"]),
            ", ".join(w["critical_tickets"]),
        )
        for w in view["at_risk_workflows"]
    ]
    if not risky:
        console.print("No workflow at risk.")
        return
    heads = ["workflow", "status", "max consumed", "nearest deadline", "critical tickets"]
    console.print(table("Workflows at risk", heads, risky))


def _seconds(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"in {ms / 1000:.0f}s" if ms >= 0 else f"{-ms / 1000:.0f}s ago"

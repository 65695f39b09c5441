"""`audit`: the operator audit trail (approve, reject, cancel), read through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orchestrator_dynamic.entrypoints.api_client import ApiError
from orchestrator_dynamic.entrypoints.cli_ops import ApiUrl, AsJson, Token, client, fail
from orchestrator_dynamic.entrypoints.console import console, print_json, table

COLUMNS = ("timestamp", "action", "target", "outcome", "scope", "token_id", "source", "channel")
ACTIONS = ("approve", "reject", "cancel")


def audit_command(
    action: Annotated[str | None, typer.Option(help="approve, reject or cancel.")] = None,
    target: Annotated[str | None, typer.Option(help="A workflow id.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO-8601: entries at or after it.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Page size.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Entries to skip.")] = 0,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Operator actions, newest first: when, what, on which workflow, how it went, and who
    (token scope and id, never the token; client address; api or console). Needs an admin
    token."""
    if action is not None and action.lower() not in ACTIONS:
        raise typer.BadParameter(f"must be one of {', '.join(ACTIONS)}", param_hint="--action")
    params: dict[str, Any] = {
        "action": action.lower() if action else None,
        "target": target,
        "since": since,
        "limit": limit,
        "offset": offset,
    }
    api = client(api_url, token)
    try:
        rows: list[dict[str, Any]] = api.get("/audit", **params)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        api.close()
    if as_json:
        print_json(rows)
        return
    body = [[r.get(c) for c in COLUMNS] + [r.get("by"), r.get("reason")] for r in rows]
    console.print(table(f"audit ({len(rows)})", [*COLUMNS, "by", "reason"], body))

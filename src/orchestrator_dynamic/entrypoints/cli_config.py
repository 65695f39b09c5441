"""`orchestrator-dynamic config`: the effective settings, secrets masked."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator_dynamic.entrypoints.console import console, err_console, print_json, table
from orchestrator_dynamic.settings import SettingsError, load_settings, masked


def config_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show every setting with its effective value (environment, .env, or default)."""
    try:
        values = masked(load_settings())
    except SettingsError as exc:
        err_console.print(f"[red]invalid configuration[/red]\n{exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print_json(values)
        return
    console.print(table("Effective configuration", ["variable", "value"], sorted(values.items())))

"""The `orchestrator-dynamic` command. Each command lives in its own module; this file wires them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator_dynamic.entrypoints import cli_ops, cli_scheduler, cli_sla
from orchestrator_dynamic.entrypoints.cli_audit import audit_command
from orchestrator_dynamic.entrypoints.cli_config import config_command
from orchestrator_dynamic.entrypoints.cli_history import history_app, store_app
from orchestrator_dynamic.entrypoints.cli_ml import ml_app
from orchestrator_dynamic.entrypoints.cli_plan import plan_command
from orchestrator_dynamic.entrypoints.cli_policy import policy_app
from orchestrator_dynamic.entrypoints.cli_simulate import simulate_app
from orchestrator_dynamic.entrypoints.console import err_console

if TYPE_CHECKING:
    from orchestrator_dynamic.settings import Settings

app = typer.Typer(
    name="orchestrator-dynamic",
    help="Durable orchestration of approved multi-agent plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("plan")(plan_command)
app.command("config")(config_command)
app.command("submit")(cli_ops.submit_command)
app.command("status")(cli_ops.status_command)
app.command("list")(cli_ops.list_command)
app.command("approve")(cli_ops.approve_command)
app.command("reject")(cli_ops.reject_command)
app.command("cancel")(cli_ops.cancel_command)
app.command("audit")(audit_command)
app.command("sla")(cli_sla.sla_command)
app.command("explain")(cli_scheduler.explain_command)
app.command("workers")(cli_scheduler.workers_command)
app.add_typer(history_app, name="history")
app.add_typer(store_app, name="store")
app.add_typer(policy_app, name="policy")
app.add_typer(ml_app, name="ml")
app.add_typer(simulate_app, name="simulate")


@app.command("up")
def up_command(
    data_dir: Annotated[
        Path | None, typer.Option(help="Embedded state (default DATA_DIR).")
    ] = None,
    api_port: Annotated[int | None, typer.Option(help="HTTP API port (default API_PORT).")] = None,
    demo_workers: Annotated[int, typer.Option(min=0, help="Simulated worker agents.")] = 0,
) -> None:
    """Start the whole service on its embedded defaults (Ctrl-C stops it cleanly)."""
    from orchestrator_dynamic.entrypoints.embedded import run_up

    _serve(lambda settings: run_up(settings, demo_workers), data_dir, api_port)


def _run_role(role: str, data_dir: Path | None, api_port: int | None = None) -> None:
    """One replica of ``role`` until Ctrl-C/SIGTERM."""
    from orchestrator_dynamic.entrypoints.embedded import run_role

    _serve(lambda settings: run_role(settings, role), data_dir, api_port)


def _serve(
    run: Callable[[Settings], Coroutine[Any, Any, None]],
    data_dir: Path | None,
    api_port: int | None,
) -> None:
    """Settings, logging, then ``run`` until it ends; a start that fails says why in one line."""
    from orchestrator_dynamic.entrypoints.embedded import up_settings
    from orchestrator_dynamic.entrypoints.startup_errors import StartupError
    from orchestrator_dynamic.observability.logging import configure_logging
    from orchestrator_dynamic.settings import SettingsError, load_settings

    try:
        settings = up_settings(load_settings(), data_dir, api_port)
    except SettingsError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run(settings))
    except StartupError as exc:
        # One line, never wrapped: what failed, where, and the setting to change.
        err_console.print(exc.line(), style="red", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(exc.code) from exc
    except KeyboardInterrupt as exc:  # Ctrl-C before the service took over the signals
        raise typer.Exit(130) from exc


DataDirOption = Annotated[
    Path | None,
    typer.Option(help="This replica's own state: the store's spool (default DATA_DIR)."),
]


@app.command("worker")
def worker_command(data_dir: DataDirOption = None) -> None:
    """One Flow C worker replica (workflows and activities) on TEMPORAL_HOST's task queue."""
    _run_role("worker", data_dir)


@app.command("intake")
def intake_command(data_dir: DataDirOption = None) -> None:
    """One intake replica: the decision and result consumers, in KAFKA_CONSUMER_GROUP_ID."""
    _run_role("intake", data_dir)


@app.command("api")
def api_command(
    data_dir: DataDirOption = None,
    api_port: Annotated[int | None, typer.Option(help="HTTP API port (default API_PORT).")] = None,
) -> None:
    """One HTTP API and console replica."""
    _run_role("api", data_dir, api_port)

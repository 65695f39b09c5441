"""`orchestrator-dynamic up`: the whole service on one machine, in one command.

Starts, in order: the Temporal dev server (unless TEMPORAL_HOST points at a cluster), the
adapters, the Flow C worker, the HTTP API, the intake consumers, background flushers and the
simulated agents. Ctrl-C (or SIGTERM) stops them in reverse order: the worker drains before the
engine goes away, which is what keeps the SDK's shutdown clean.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from rich.panel import Panel
from temporalio.worker import Worker

from orchestrator_dynamic.adapters.temporal_dev_server import TemporalDevServer
from orchestrator_dynamic.bootstrap import Runtime, background_loops, open_runtime
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.api.security import check_bind
from orchestrator_dynamic.entrypoints.console import console
from orchestrator_dynamic.entrypoints.demo_agents import DemoAgentPool
from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.worker import build_worker
from orchestrator_dynamic.observability.tracing import configure_tracing
from orchestrator_dynamic.settings import Settings

log = structlog.get_logger(__name__)
WORKER_DRAIN_S = 10.0


async def run_up(settings: Settings, demo_workers: int) -> None:
    check_bind(settings.api_host, settings.api_tokens_map())
    configure_tracing(settings.otel_service_name, settings.otel_exporter_endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        target = await _engine(settings, stack)
        runtime = await stack.enter_async_context(open_runtime(settings, target))
        activities = FlowActivities(
            runtime.steps,
            unexpected_max_attempts=settings.activity_unexpected_max_attempts,
            stuck_after_s=settings.stuck_step_alert_seconds,
        )
        worker = build_worker(runtime.temporal, settings.temporal.task_queue, activities)
        api = _api_server(runtime)
        loops = await background_loops(runtime)
        if demo_workers:
            loops["demo-agents"] = _demo_pool(runtime, demo_workers).run
        tasks = {name: asyncio.create_task(run(), name=name) for name, run in loops.items()}
        tasks["worker"] = asyncio.create_task(worker.run(), name="worker")
        tasks["api"] = asyncio.create_task(_serve_without_signals(api), name="api")
        _banner(settings, target, demo_workers)
        await _until(stop, tasks)
        await _shutdown(tasks, loops, api, worker)


async def _engine(settings: Settings, stack: AsyncExitStack) -> str:
    conf = settings.temporal
    if not conf.embedded:
        return f"{conf.host}:{conf.port}"
    server = TemporalDevServer(
        db_file=settings.data_path("temporal.db"),
        port=conf.port,
        ui_port=settings.temporal_ui_port,
        namespace=conf.namespace,
    )
    if await server.listening():
        # A dev server left running by an `up` that was killed: it holds this data dir's
        # workflows, so use it rather than fail on the port.
        console.print(f"reusing the Temporal server already listening on {server.target}")
        return server.target
    await server.start()
    stack.push_async_callback(server.stop)
    return server.target


def _api_server(runtime: Runtime) -> uvicorn.Server:
    settings = runtime.settings
    app = create_app(runtime, settings.api_tokens_map(), settings.api_max_body_bytes)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="off"
    )
    return uvicorn.Server(config)


def _demo_pool(runtime: Runtime, count: int) -> DemoAgentPool:
    settings = runtime.settings
    return DemoAgentPool(
        runtime.bus,
        runtime.registry,
        count,
        failure_rate=settings.demo_worker_failure_rate,
        speed=settings.demo_worker_speed,
        tickets_topic=settings.kafka_tickets_topic,
        results_topic=settings.kafka_results_topic,
    )


async def _serve_without_signals(server: uvicorn.Server) -> None:
    """uvicorn would install its own Ctrl-C handler; `up` owns signals and stops it itself."""
    config = server.config
    if not config.loaded:
        config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup()
    if server.should_exit:
        raise OSError(f"the HTTP API could not listen on {config.host}:{config.port}")
    await server.main_loop()
    await server.shutdown()


async def _until(stop: asyncio.Event, tasks: dict[str, asyncio.Task[Any]]) -> None:
    """Run until Ctrl-C, or until a component dies (then say which, and stop the rest)."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            log.error("component_failed", component=task.get_name(), error=str(task.exception()))
    console.print("[bold]stopping…[/bold]")


async def _shutdown(
    tasks: dict[str, asyncio.Task[Any]],
    loops: dict[str, Any],
    api: uvicorn.Server,
    worker: Worker,
) -> None:
    """Consumers first (nothing new comes in), then the API, then the worker drains; the
    engine and the adapters close after this returns (exit stack, reverse order)."""
    for name in loops:
        tasks[name].cancel()
    api.should_exit = True
    try:
        await asyncio.wait_for(worker.shutdown(), WORKER_DRAIN_S)
    except (TimeoutError, RuntimeError) as exc:
        log.warning("worker_shutdown_incomplete", reason=str(exc) or type(exc).__name__)
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    for name, result in zip(tasks, results, strict=True):
        if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
            log.warning("component_stopped_with_error", component=name, error=str(result))
    console.print("[bold]stopped[/bold]")


def _banner(settings: Settings, target: str, demo_workers: int) -> None:
    lines = [
        f"HTTP API      http://{settings.api_host}:{settings.api_port}  (docs at /docs)",
        f"Temporal      {target}  namespace {settings.temporal.namespace}",
    ]
    if settings.temporal.embedded:
        lines.append(f"Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}")
    lines += [
        f"Bus           {settings.kafka_bootstrap_servers or 'local durable bus in ' + str(settings.data_path('bus.db'))}",
        f"Store         {settings.store_url or 'sqlite in ' + str(settings.data_path('store.db'))}",
        f"Demo agents   {demo_workers}",
        "Try: orchestrator-dynamic submit <decision.json> --wait",
    ]
    console.print(Panel("\n".join(lines), title="Orchestrator Dynamic is up", expand=False))


def up_settings(base: Settings, data_dir: Path | None, api_port: int | None) -> Settings:
    update: dict[str, Any] = {}
    if data_dir is not None:
        update["data_dir"] = data_dir
    if api_port is not None:
        update["api_port"] = api_port
    return base.model_copy(update=update) if update else base

"""`orchestrator-dynamic up`: the whole service on one machine, in one command; and each role
(`worker`, `intake`, `api`) alone, as one replica among many on an existing Temporal.

Starts, in order: binds the API port, the Temporal dev server (unless TEMPORAL_HOST points at a
cluster), the adapters, the Flow C worker, the intake consumers, the HTTP API, background flushers
and the simulated agents; the banner comes only once all of it runs. Ctrl-C (or SIGTERM) stops
them in reverse order: the worker drains before the engine goes away, which is what keeps the
SDK's shutdown clean. A start that fails says why in one line (StartupError). A role process
starts the same way with only its part (roles.py says which loops each role runs).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from rich.panel import Panel
from temporalio.worker import Worker

from orchestrator_dynamic import roles
from orchestrator_dynamic.adapters import local_ports
from orchestrator_dynamic.adapters.temporal_dev_server import TemporalDevServer
from orchestrator_dynamic.bootstrap import Runtime, open_runtime
from orchestrator_dynamic.domain.errors import EngineUnavailable
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.entrypoints.api.security import check_bind
from orchestrator_dynamic.entrypoints.console import console
from orchestrator_dynamic.entrypoints.demo_agents import DemoAgentPool
from orchestrator_dynamic.entrypoints.startup_errors import (
    CONFIGURATION,
    StartupError,
    startup_error,
    store_target,
)
from orchestrator_dynamic.observability.tracing import configure_tracing
from orchestrator_dynamic.settings import Settings

log = structlog.get_logger(__name__)
WORKER_DRAIN_S = 10.0
# An external Temporal must accept connections within this long, or `up` says so and exits.
ENGINE_PROBE_S = 10.0
QUIET_WHILE_STARTING = ("aiokafka",)


@dataclass
class Started:
    """Everything `up` runs once it has started, for the banner and the shutdown."""

    engine: str
    engine_pid: int | None
    tasks: dict[str, asyncio.Task[Any]]
    loops: dict[str, Any]
    api: uvicorn.Server | None
    worker: Worker | None


async def run_up(settings: Settings, demo_workers: int) -> None:
    """Start everything, print the banner once all of it listens, run until Ctrl-C/SIGTERM.

    Anything that stops the start is raised as one StartupError (after whatever had started is
    stopped again); a Ctrl-C during the start stops what has started and returns.
    """
    await run_roles(settings, frozenset(roles.ROLES), demo_workers)


async def run_role(settings: Settings, role: str) -> None:
    """One replica of one role, on the Temporal, bus and store the settings name."""
    if settings.temporal.embedded:
        raise StartupError(
            f"the {role} role connects to an existing Temporal (`up` embeds one)",
            "TEMPORAL_HOST",
            code=CONFIGURATION,
        )
    await run_roles(settings, frozenset({role}), 0)


async def run_roles(settings: Settings, wanted: frozenset[str], demo_workers: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: Started | None = None
    try:
        async with AsyncExitStack() as stack:
            started = await _start_unless_stopped(settings, wanted, demo_workers, stack, stop)
            if started is None:
                console.print("[bold]stopped[/bold]")
                return
            if len(wanted) == len(roles.ROLES):
                _banner(settings, started, demo_workers)
            else:
                _role_banner(settings, wanted)
            await _until(stop, started.tasks)
            await _shutdown(started.tasks, started.loops, started.api, started.worker)
    except Exception as exc:
        if started is not None:
            raise
        log.debug("startup_failed", exc_info=True)
        raise startup_error(exc, settings) from exc


async def _start_unless_stopped(
    settings: Settings,
    wanted: frozenset[str],
    demo_workers: int,
    stack: AsyncExitStack,
    stop: asyncio.Event,
) -> Started | None:
    with _quiet(QUIET_WHILE_STARTING):
        start = _start(settings, wanted, demo_workers, stack)
        starting = asyncio.create_task(start, name="start")
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not starting.done():
            starting.cancel()
        try:
            return await starting
        except asyncio.CancelledError:
            return None


@contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """Libraries that log their own connection errors would repeat, in several lines, what the
    StartupError says in one; once started, they log as configured."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def _start(
    settings: Settings, wanted: frozenset[str], demo_workers: int, stack: AsyncExitStack
) -> Started:
    api_socket = None
    if roles.API in wanted:
        check_bind(settings.api_host, settings.api_tokens_map())
        # Bound first: a taken port is said at once, and nothing is announced that cannot listen.
        api_socket = local_ports.bind("api", settings.api_host, settings.api_port)
        stack.callback(api_socket.close)
    configure_tracing(settings.otel_service_name, settings.otel_exporter_endpoint)
    engine, engine_pid = await _engine(settings, stack)
    runtime = await stack.enter_async_context(open_runtime(settings, engine))
    worker = roles.flow_worker(runtime) if roles.WORKER in wanted else None
    loops: dict[str, Any] = {}
    if roles.WORKER in wanted:
        loops.update(roles.worker_loops(runtime, roles.holder_id()))
    # Subscribed before the API answers: a client that sees /health may publish at once.
    if roles.INTAKE in wanted:
        loops.update(await roles.intake_loops(runtime))
    api = None
    if api_socket is not None:
        loops.update(roles.api_loops(runtime))
        api = _api_server(runtime)
        await _listen(api, api_socket)
    if demo_workers:
        loops["demo-agents"] = _demo_pool(runtime, demo_workers).run
    tasks = {name: asyncio.create_task(run(), name=name) for name, run in loops.items()}
    if worker is not None:
        tasks["worker"] = asyncio.create_task(worker.run(), name="worker")
    if api is not None:
        tasks["api"] = asyncio.create_task(_serve(api), name="api")
    return Started(engine, engine_pid, tasks, loops, api, worker)


async def _engine(settings: Settings, stack: AsyncExitStack) -> tuple[str, int | None]:
    """The Temporal target, and the pid of the embedded dev server when `up` started one."""
    conf = settings.temporal
    if not conf.embedded:
        await _reachable(conf.host, conf.port, ENGINE_PROBE_S)
        return f"{conf.host}:{conf.port}", None
    server = TemporalDevServer(
        db_file=settings.data_path("temporal.db"),
        port=conf.port,
        ui_port=settings.temporal_ui_port,
        namespace=conf.namespace,
    )
    stack.push_async_callback(server.stop)
    await server.start()
    return server.target, server.pid


async def _reachable(host: str, port: int, within_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
        except (OSError, TimeoutError) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise EngineUnavailable("temporal", f"{type(exc).__name__}: {exc}") from exc
            await asyncio.sleep(0.5)
            continue
        writer.close()
        return


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


async def _listen(server: uvicorn.Server, sock: socket.socket) -> None:
    """Listen on the socket bound at the start. uvicorn's own serve() would install a Ctrl-C
    handler; `up` owns signals and stops the server itself."""
    config = server.config
    if not config.loaded:
        config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])


async def _serve(server: uvicorn.Server) -> None:
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
    api: uvicorn.Server | None,
    worker: Worker | None,
) -> None:
    """Consumers first (nothing new comes in), then the API, then the worker drains; the
    engine and the adapters close after this returns (exit stack, reverse order)."""
    for name in loops:
        tasks[name].cancel()
    if api is not None:
        api.should_exit = True
    if worker is not None:
        try:
            await asyncio.wait_for(worker.shutdown(), WORKER_DRAIN_S)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("worker_shutdown_incomplete", reason=str(exc) or type(exc).__name__)
    results = await asyncio.gather(*tasks.values(), return_exceptions=True)
    for name, result in zip(tasks, results, strict=True):
        if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
            log.warning("component_stopped_with_error", component=name, error=str(result))
    console.print("[bold]stopped[/bold]")


def _banner(settings: Settings, started: Started, demo_workers: int) -> None:
    engine = f"Temporal      {started.engine}  namespace {settings.temporal.namespace}"
    if started.engine_pid is not None:
        engine += f"  (dev server pid {started.engine_pid}, stops with `up`)"
    lines = [
        f"HTTP API      http://{settings.api_host}:{settings.api_port}  (docs at /docs)",
        engine,
    ]
    if settings.temporal.embedded:
        lines.append(f"Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}")
    store, _ = store_target(settings)
    if store.startswith("sqlite"):
        store = f"sqlite in {settings.data_path('store.db')}"
    lines += [
        f"Bus           {settings.kafka_bootstrap_servers or 'local durable bus in ' + str(settings.data_path('bus.db'))}",
        f"Store         {store}",
        f"Demo agents   {demo_workers}",
        "Try: orchestrator-dynamic submit <decision.json> --wait",
    ]
    console.print(Panel("\n".join(lines), title="Orchestrator Dynamic is up", expand=False))
    console.file.flush()  # seen at once in a log file too, not when the buffer fills


def _role_banner(settings: Settings, wanted: frozenset[str]) -> None:
    conf = settings.temporal
    role = ", ".join(sorted(wanted))
    where = f"Temporal {conf.host}:{conf.port} namespace {conf.namespace} queue {conf.task_queue}"
    if roles.API in wanted:
        where += f"; HTTP API http://{settings.api_host}:{settings.api_port}"
    console.print(f"[bold]{role}[/bold] replica running: {where}", soft_wrap=True)
    console.file.flush()


def up_settings(base: Settings, data_dir: Path | None, api_port: int | None) -> Settings:
    update: dict[str, Any] = {}
    if data_dir is not None:
        update["data_dir"] = data_dir
    if api_port is not None:
        update["api_port"] = api_port
    return base.model_copy(update=update) if update else base

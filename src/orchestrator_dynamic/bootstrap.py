"""The one composition root: builds every adapter and service from Settings.

Nothing connects at import time. ``open_runtime`` connects in dependency order and closes in
reverse; entrypoints (``up``, the worker, the API) hold the Runtime for their lifetime.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.service import RPCError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from orchestrator_dynamic.domain.errors import EngineUnavailable, OrchestratorError
from orchestrator_dynamic.domain.ports import MessageBus, Scheduler, Store, WorkerRegistry
from orchestrator_dynamic.flow import search_attributes
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions
from orchestrator_dynamic.flow.worker import connect
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.flow_steps import FlowDeps, FlowSteps, Topics
from orchestrator_dynamic.services.intake import DecisionIntake, ResultIntake
from orchestrator_dynamic.services.operations import Operations
from orchestrator_dynamic.services.readiness import Readiness
from orchestrator_dynamic.services.sla_monitor import SlaMonitor
from orchestrator_dynamic.settings import Settings

log = structlog.get_logger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Runtime:
    """Everything a process of the orchestrator needs, connected."""

    settings: Settings
    bus: MessageBus
    store: Store
    cache: Any
    registry: WorkerRegistry
    scheduler: Scheduler
    policy: Any | None
    temporal: Client
    steps: FlowSteps
    gateway: FlowGateway
    operations: Operations
    readiness: Readiness
    sla_monitor: SlaMonitor
    extras: dict[str, Any] = field(default_factory=dict)


def flow_options(settings: Settings) -> FlowOptions:
    """Per-workflow knobs, frozen into each workflow when it starts."""
    sla = settings.sla_policy()
    weights = settings.priority_weights()
    # Ticket back-off has its own settings: RETRY_* are the store's write retries only.
    return FlowOptions(
        approval_timeout_s=settings.approval_timeout_seconds,
        max_in_flight=settings.scheduler_max_parallel_tickets,
        retry_initial_ms=settings.ticket_retry_initial_interval_ms,
        retry_backoff=settings.ticket_retry_backoff_coefficient,
        retry_max_ms=settings.ticket_retry_max_interval_ms,
        min_timeout_ms=sla.min_timeout_ms,
        timeout_buffer=sla.buffer_multiplier,
        default_timeout_ms=sla.default_timeout_ms,
        weights=(weights.risk, weights.qos, weights.sla),
        task_type_aliases=dict(settings.task_type_aliases),
    )


def topics(settings: Settings) -> Topics:
    return Topics(
        tickets=settings.kafka_tickets_topic,
        telemetry=settings.kafka_telemetry_topic,
        incidents=settings.kafka_incidents_topic,
        allocation_outcomes=settings.kafka_allocation_outcomes_topic
        if settings.ml_allocation_outcomes_enabled
        else "",
    )


async def connect_temporal(target: str, namespace: str, within_s: float = 60.0) -> Client:
    """The engine may still be starting (embedded mode): retry for a while, then give up."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((RPCError, RuntimeError, OSError)),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        stop=stop_after_delay(within_s),
        reraise=True,
    ):
        with attempt:
            return await connect(target, namespace)
    raise AssertionError("unreachable")


@asynccontextmanager
async def open_runtime(
    settings: Settings, temporal_target: str | None = None
) -> AsyncIterator[Runtime]:
    from orchestrator_dynamic import wiring

    async with AsyncExitStack() as stack:
        bus = await wiring.open_bus(settings, stack)
        store = await wiring.open_store(settings, stack)
        cache = await wiring.open_cache(settings, stack)
        registry = await wiring.open_registry(settings, cache, stack)
        scheduler = wiring.build_scheduler(settings, registry, cache)
        policy = await wiring.open_policy(settings, store, stack)
        if policy is not None:  # a package answering another contract stops the start here
            await policy.check_at_start(settings.opa_fail_open)
        temporal_conf = settings.temporal
        target = temporal_target or f"{temporal_conf.host}:{temporal_conf.port}"
        try:
            client = await connect_temporal(target, temporal_conf.namespace)
        except (RPCError, RuntimeError, OSError) as exc:  # the SDK's errors, as the domain's
            raise EngineUnavailable("temporal", f"{target}: {exc}") from exc
        # The embedded server has them from its start; a cluster gets them here if we may.
        searchable = await search_attributes.ensure_registered(client, temporal_conf.namespace)
        sla_monitor = await wiring.open_sla_monitor(settings, store, bus, cache, now_ms, stack)
        ml = wiring.build_ml_predictor(settings)
        steps = FlowSteps(
            FlowDeps(bus, store, scheduler, now_ms, topics(settings), policy, sla_monitor, ml)
        )
        gateway = FlowGateway(
            client,
            temporal_conf.task_queue,
            store,
            lambda: flow_options(settings),
            now_ms,
            scheduler,
            searchable,
        )
        operations = Operations(gateway, store, now_ms, settings.decision_hash_verify)
        readiness = wiring.readiness(settings, gateway, bus, store, cache, registry, policy)
        schemas = await wiring.open_schema_registry(settings, stack)
        yield Runtime(
            settings,
            bus,
            store,
            cache,
            registry,
            scheduler,
            policy,
            client,
            steps,
            gateway,
            operations,
            readiness,
            sla_monitor,
            {"schema_registry": schemas},
        )


LoopFactory = Callable[[], Coroutine[Any, Any, None]]


async def background_loops(runtime: Runtime) -> dict[str, LoopFactory]:
    """Long-running consumers and flushers of a full orchestrator process."""
    from orchestrator_dynamic import wiring

    settings = runtime.settings
    dead_letters = DeadLetters(runtime.bus, settings.kafka_dlq_topic)
    group = settings.kafka_consumer_group_id
    registry = runtime.extras.get("schema_registry")
    decisions = DecisionIntake(
        await runtime.bus.subscribe([settings.kafka_consensus_topic], group),
        dead_letters,
        wiring.decoder("ConsolidatedDecision", registry),
        runtime.operations,
    )
    results = ResultIntake(
        await runtime.bus.subscribe([settings.kafka_results_topic], group),
        dead_letters,
        wiring.decoder("ExecutionResult", registry),
        runtime.gateway,
    )
    runtime.extras["intake"] = {"decisions": decisions, "results": results}
    return {
        "decision-intake": decisions.run,
        "result-intake": results.run,
        "telemetry-flusher": lambda: _flush_forever(runtime.steps),
        "sla-monitor": runtime.sla_monitor.run_forever,
        "active-workflows": lambda: _count_active_forever(runtime.gateway),
        **wiring.ml_loops(settings, runtime.store, runtime.steps, now_ms),
    }


async def _count_active_forever(gateway: FlowGateway, every_s: float = 15.0) -> None:
    """orchestration_workflows_active from the engine itself: right across replicas and
    restarts, where counting starts and ends in one process would drift."""
    while True:
        try:
            metrics.WORKFLOWS_ACTIVE.set(await gateway.count_running())
        except OrchestratorError as exc:
            log.warning("active_workflows_unknown", reason=str(exc))
        await asyncio.sleep(every_s)


async def _flush_forever(steps: FlowSteps, every_s: float = 10.0) -> None:
    """Frames buffered while the bus was down go out once it is back."""
    while True:
        await asyncio.sleep(every_s)
        try:
            sent = await steps.flush_telemetry()
        except OrchestratorError as exc:
            log.warning("telemetry_flush_failed", reason=str(exc))
            continue
        if sent:
            log.info("telemetry_flushed", frames=sent)

"""What each role of a process runs, assembled from a connected Runtime (composition, beside
bootstrap.py which builds the Runtime).

- ``worker``: the Flow C worker and its activities on the task queue; the telemetry flusher (its
  own buffer); the SLA monitor and ML training, under leases (one replica runs each).
- ``intake``: the decision and result consumers, in one consumer group.
- ``api``: the HTTP API and console (served by the entrypoint); the active-workflows gauge (read
  from the engine, so any number of replicas report the same figure).

``up`` runs all three in one process. Any number of replicas of each share the Temporal namespace
and task queue, the consumer group, Redis (capacity, de-duplication, leases) and the store; each
replica keeps its own DATA_DIR (the fail-open spool is one process's own writes).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable

import structlog
from temporalio.worker import Worker

from orchestrator_dynamic.bootstrap import Runtime, decoder, now_ms
from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.ports import Store, WorkflowEngine
from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.steps import FlowSteps
from orchestrator_dynamic.flow.worker import build_worker
from orchestrator_dynamic.observability import metrics
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake, ResultIntake
from orchestrator_dynamic.services.leases import LeasedLoop, LoopFactory
from orchestrator_dynamic.settings import Settings

log = structlog.get_logger(__name__)

WORKER, INTAKE, API = "worker", "intake", "api"
ROLES = (WORKER, INTAKE, API)


def holder_id() -> str:
    """This process among the replicas: host and pid say which one, the suffix tells a restarted
    process with a reused pid from its predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def flow_worker(runtime: Runtime) -> Worker:
    settings = runtime.settings
    activities = FlowActivities(
        runtime.steps,
        unexpected_max_attempts=settings.activity_unexpected_max_attempts,
        stuck_after_s=settings.stuck_step_alert_seconds,
    )
    return build_worker(runtime.temporal, settings.temporal.task_queue, activities)


async def intake_loops(runtime: Runtime) -> dict[str, LoopFactory]:
    """The bus consumers, subscribed when this returns (before the API answers, in `up`)."""
    settings = runtime.settings
    dead_letters = DeadLetters(runtime.bus, settings.kafka_dlq_topic)
    group = settings.kafka_consumer_group_id
    registry = runtime.schema_registry
    decisions = DecisionIntake(
        await runtime.bus.subscribe([settings.kafka_consensus_topic], group),
        dead_letters,
        decoder("ConsolidatedDecision", registry),
        runtime.operations,
    )
    results = ResultIntake(
        await runtime.bus.subscribe([settings.kafka_results_topic], group),
        dead_letters,
        decoder("ExecutionResult", registry),
        runtime.operations.results,
    )
    runtime.decision_intake, runtime.result_intake = decisions, results
    return {"decision-intake": decisions.run, "result-intake": results.run}


def worker_loops(runtime: Runtime, holder: str) -> dict[str, LoopFactory]:
    """Beside the Flow C worker: its telemetry flusher, and the loops that must run once."""
    settings = runtime.settings
    once: dict[str, LoopFactory] = {
        "sla-monitor": runtime.sla_monitor.run_forever,
        **ml_loops(settings, runtime.store, runtime.steps, now_ms),
    }
    loops: dict[str, LoopFactory] = {"telemetry-flusher": lambda: _flush_forever(runtime.steps)}
    for name, loop in once.items():
        leased = LeasedLoop(runtime.leases, name, holder, loop, settings.lease_ttl_seconds)
        loops[name] = leased.run
    return loops


def api_loops(runtime: Runtime) -> dict[str, LoopFactory]:
    return {"active-workflows": lambda: _count_active_forever(runtime.gateway)}


def ml_loops(
    settings: Settings, store: Store, steps: FlowSteps, clock_ms: Callable[[], int]
) -> dict[str, LoopFactory]:
    """The periodic training loop, beside the other background loops, when ML is on."""
    predictor = steps.ml_predictor
    if predictor is None:
        return {}
    from orchestrator_dynamic.services.ml.loop import TrainingLoop
    from orchestrator_dynamic.services.ml.training import TrainingConfig

    loop = TrainingLoop(
        store,
        predictor.registry,
        predictor,
        TrainingConfig(
            min_samples=settings.ml_min_training_samples,
            contamination=settings.ml_anomaly_contamination,
            error_threshold=settings.ml_duration_error_threshold,
            precision_threshold=settings.ml_anomaly_precision_threshold,
        ),
        settings.ml_training_window_days,
        settings.ml_training_interval_hours * 3600,
        clock_ms,
        stats_ttl_s=settings.ml_feature_cache_ttl_seconds,
    )
    return {"ml-training": loop.run_forever}


async def _count_active_forever(gateway: WorkflowEngine, every_s: float = 15.0) -> None:
    """orchestration_workflows_active from the engine itself: right across replicas and
    restarts, where counting starts and ends in one process would drift."""
    while True:
        try:
            metrics.WORKFLOWS_ACTIVE.set(await gateway.count_running())
        except OrchestratorError as exc:
            log.warning("active_workflows_unknown", reason=str(exc))
        await asyncio.sleep(every_s)


async def _flush_forever(steps: FlowSteps, every_s: float = 10.0) -> None:
    """Frames buffered while the bus was down go out once it is back (this process's buffer)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            sent = await steps.flush_telemetry()
        except OrchestratorError as exc:
            log.warning("telemetry_flush_failed", reason=str(exc))
            continue
        if sent:
            log.info("telemetry_flushed", frames=sent)

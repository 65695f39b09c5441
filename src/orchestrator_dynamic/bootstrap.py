"""The one composition root: builds every adapter and service from Settings.

Which adapter backs each port is chosen here from settings (URLs and hosts), and nowhere else.
Nothing connects at import time. ``open_runtime`` connects in dependency order and closes in
reverse; entrypoints (``up``, the worker, the API) hold the Runtime for their lifetime.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from temporalio.client import Client
from temporalio.service import RPCError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus, KafkaSecurity
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.adapters.lease.memory import MemoryLeases
from orchestrator_dynamic.adapters.lease.redis import RedisLeases
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.policy.opa import OpaConfig, OpaPolicyEngine
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.adapters.serialization.avro import decode_message
from orchestrator_dynamic.adapters.serialization.schema_registry import SchemaRegistryClient
from orchestrator_dynamic.adapters.sla.management import SlaManagementClient, base_url
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.mongo import MongoStore
from orchestrator_dynamic.adapters.store.postgres import PostgresStore
from orchestrator_dynamic.adapters.store.resilient import ResilientStore
from orchestrator_dynamic.adapters.store.spool import SPOOL_FILE, Spool
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.errors import EngineUnavailable
from orchestrator_dynamic.domain.ports import (
    Cache,
    Leases,
    LedgerCache,
    MessageBus,
    ModelRegistry,
    Publisher,
    Scheduler,
    Store,
    WorkerRegistry,
    WorkflowEngine,
)
from orchestrator_dynamic.domain.sla_budget import HOUR_MS, BudgetPolicy
from orchestrator_dynamic.flow import search_attributes
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps, Topics
from orchestrator_dynamic.flow.worker import connect
from orchestrator_dynamic.services.intake import DecisionIntake, Decoder, ResultIntake
from orchestrator_dynamic.services.operations import Operations
from orchestrator_dynamic.services.policy import PolicyConfig, PolicyValidator
from orchestrator_dynamic.services.readiness import Check, Readiness
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from orchestrator_dynamic.services.sla_monitor import SlaMonitor, SlaMonitorConfig
from orchestrator_dynamic.settings import Settings

if TYPE_CHECKING:
    from orchestrator_dynamic.services.ml.predictor import MLPredictor

log = structlog.get_logger(__name__)
LOCAL_DISCOVERY_S = 1.0  # discovery answers kept in process over a shared cache


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Runtime:
    """Everything a process of the orchestrator needs, connected."""

    settings: Settings
    bus: MessageBus
    store: Store
    cache: Cache
    registry: WorkerRegistry
    scheduler: Scheduler
    policy: PolicyValidator | None  # None when OPA_ENABLED is off
    temporal: Client  # the worker is built on it (entrypoints); services see only `gateway`
    steps: FlowSteps
    gateway: WorkflowEngine
    operations: Operations
    readiness: Readiness
    sla_monitor: SlaMonitor
    schema_registry: SchemaRegistryClient | None = None  # writer schemas of Avro records
    # The bus consumers, once ``background_loops`` subscribed them.
    decision_intake: DecisionIntake | None = None
    result_intake: ResultIntake | None = None
    # Loops that must run once across replicas take a lease here (Redis when configured).
    leases: Leases = field(default_factory=MemoryLeases)


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
        weights=(weights.risk, weights.qos, weights.sla),
        task_type_aliases=dict(settings.task_type_aliases),
        continue_as_new_events=settings.flow_continue_as_new_events,
        continue_as_new_bytes=settings.flow_continue_as_new_bytes,
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


class UnsupportedBackend(ValueError):
    """A URL names a backend this build cannot reach."""


async def open_bus(settings: Settings, stack: AsyncExitStack) -> MessageBus:
    """Kafka when KAFKA_BOOTSTRAP_SERVERS is set, else the local durable bus in the data dir."""
    bus: MessageBus
    if settings.kafka_bootstrap_servers:
        security = KafkaSecurity(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password.get_secret_value(),
            ssl_cafile=settings.kafka_ssl_cafile,
        )
        bus = KafkaBus(
            settings.kafka_bootstrap_servers,
            security=security,
            idempotent=settings.kafka_enable_idempotence,
            group_membership=True,
        )
    else:
        bus = LocalBus(settings.data_path("bus.db"))
    await bus.start()
    stack.push_async_callback(bus.stop)
    return bus


def store_url(settings: Settings) -> str:
    if settings.store_url:
        return settings.store_url
    if settings.mongodb_uri:
        return settings.mongodb_uri
    return f"sqlite:///{settings.data_path('store.db')}"


def build_store(url: str, settings: Settings) -> Store:
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite":
        return SqliteStore(url.removeprefix("sqlite:///"))
    if scheme == "memory":
        return MemoryStore()
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    if scheme in ("mongodb", "mongodb+srv"):
        return MongoStore(url, settings.mongodb_database)
    raise UnsupportedBackend(
        f"STORE_URL scheme {scheme!r} is not supported (sqlite, postgresql, mongodb, memory)"
    )


async def open_store(settings: Settings, stack: AsyncExitStack) -> Store:
    """The configured store behind retries and (fail-open) a replayed local spool."""
    store = ResilientStore(
        build_store(store_url(settings), settings),
        Spool(settings.data_path(SPOOL_FILE)),
        settings.retry,
        fail_open=settings.store_fail_open,
        replay_interval_s=settings.store_spool_replay_interval_seconds,
    )
    await store.start()
    stack.push_async_callback(store.stop)
    return store


async def open_cache(settings: Settings, stack: AsyncExitStack) -> LedgerCache:
    if not settings.redis_cluster_nodes:
        return MemoryCache()
    cache = RedisCache(
        settings.redis_nodes(),
        settings.redis_password.get_secret_value() or None,
    )
    await cache.start()
    stack.push_async_callback(cache.stop)
    return cache


async def open_leases(settings: Settings, stack: AsyncExitStack) -> Leases:
    """Redis (shared by the replicas) when REDIS_CLUSTER_NODES is set, else in process."""
    if not settings.redis_cluster_nodes:
        return MemoryLeases()
    leases = RedisLeases(settings.redis_nodes(), settings.redis_password.get_secret_value())
    await leases.start()
    stack.push_async_callback(leases.stop)
    return leases


async def open_registry(settings: Settings, cache: Cache, stack: AsyncExitStack) -> WorkerRegistry:
    if settings.service_registry_host:
        target = f"{settings.service_registry_host}:{settings.service_registry_port}"
        client = GrpcRegistry(
            target,
            settings.service_registry_timeout_seconds,
            watch=settings.service_registry_watch,
        )
        await client.start()
        stack.push_async_callback(client.stop)
        return client
    return BuiltinRegistry(
        settings.worker_heartbeat_degraded_seconds, settings.worker_heartbeat_unhealthy_seconds
    )


def build_scheduler(settings: Settings, registry: WorkerRegistry, cache: LedgerCache) -> Scheduler:
    config = SchedulerConfig(
        weights=settings.priority_weights(),
        intelligent=settings.enable_intelligent_scheduler,
        max_results=settings.service_registry_max_results,
        cache_ttl_seconds=settings.service_registry_cache_ttl_seconds,
        score_tolerance=settings.scheduler_deadline_score_tolerance,
        # A shared (Redis) cache costs a round trip per read: keep answers for a second here.
        local_discovery_seconds=LOCAL_DISCOVERY_S if settings.redis_cluster_nodes else 0.0,
    )
    return IntelligentScheduler(registry, cache, config)


def policy_config(settings: Settings) -> PolicyConfig:
    return PolicyConfig(
        allowed_capabilities=tuple(settings.opa_allowed_capabilities),
        max_cpu=settings.opa_max_cpu,
        max_memory=settings.opa_max_memory,
        max_concurrent_tickets=settings.opa_max_concurrent_tickets,
        ml_accuracy_threshold=settings.ml_accuracy_threshold,
    )


async def open_policy(
    settings: Settings, store: Store | None, stack: AsyncExitStack
) -> PolicyValidator | None:
    """OPA server when OPA_URL is set, else the embedded engine over OPA_POLICY_DIR (watched)."""
    if not settings.opa_enabled:
        return None
    engine: OpaPolicyEngine | EmbeddedPolicyEngine
    if settings.opa_url:
        config = OpaConfig(
            settings.opa_url,
            settings.opa_timeout_seconds,
            settings.opa_cache_ttl_seconds,
            settings.opa_circuit_breaker_failure_threshold,
            settings.opa_circuit_breaker_reset_seconds,
            settings.opa_fail_open,
        )
        engine = OpaPolicyEngine(config, MemoryCache())
        stack.push_async_callback(engine.close)
    else:
        engine = EmbeddedPolicyEngine(settings.opa_policy_dir)
        await engine.start()
        stack.push_async_callback(engine.close)
    return PolicyValidator(engine, store, policy_config(settings), engine.name)


def sla_monitor_config(settings: Settings) -> SlaMonitorConfig:
    budget = BudgetPolicy(
        default_target=settings.sla_slo_target,
        targets=dict(settings.sla_slo_targets),
        window_ms=settings.sla_slo_window_days * 24 * HOUR_MS,
        critical_threshold=settings.sla_budget_critical_threshold,
    )
    return SlaMonitorConfig(
        service_name=settings.otel_service_name,
        warning_threshold=settings.sla_deadline_warning_threshold,
        budget=budget,
        dedup_ttl_s=settings.sla_alert_deduplication_ttl_seconds,
        interval_s=settings.sla_check_interval_seconds,
        proactive=settings.sla_proactive_monitoring_enabled,
        alerts_topic=settings.kafka_sla_alerts_topic,
        violations_topic=settings.kafka_sla_violations_topic,
    )


async def open_sla_monitor(
    settings: Settings,
    store: Store,
    publisher: Publisher,
    cache: Cache,
    clock: Callable[[], int],
    stack: AsyncExitStack,
) -> SlaMonitor:
    """The SLA monitor; with SLA_MANAGEMENT_ENABLED its budgets come from the external API."""
    management = None
    if settings.sla_management_enabled and settings.sla_management_host:
        management = SlaManagementClient(
            base_url(settings.sla_management_host, settings.sla_management_port),
            timeout_s=settings.sla_management_timeout_seconds,
            cache_ttl_s=settings.sla_management_cache_ttl_seconds,
            default_target=settings.sla_slo_target,
        )
        stack.push_async_callback(management.close)
    config = sla_monitor_config(settings)
    return SlaMonitor(store, publisher, cache, clock, config, management)


def decoder(name: str, registry: SchemaRegistryClient | None) -> Decoder:
    """JSON or Confluent Avro for the named message; writer schemas from the registry if set."""
    resolve = registry.schema if registry is not None else None

    async def decode(raw: bytes) -> dict[str, Any]:
        return await decode_message(name, raw, resolve)

    return decode


async def open_schema_registry(
    settings: Settings, stack: AsyncExitStack
) -> SchemaRegistryClient | None:
    if not settings.schema_registry_url:
        return None
    client = SchemaRegistryClient(settings.schema_registry_url)
    stack.push_async_callback(client.close)
    return client


def readiness(
    settings: Settings,
    engine: WorkflowEngine,
    bus: MessageBus,
    store: Store,
    cache: Cache,
    registry: WorkerRegistry,
    policy: PolicyValidator | None,
) -> Readiness:
    checks = [
        Check("workflow_engine", engine.ping),
        Check("bus", bus.ping),
        # Fail-open keeps working through a store outage (writes wait in the spool), so the
        # store only decides readiness when writes would otherwise fail.
        Check("store", store.ping, required=not settings.store_fail_open),
        Check("cache", cache.ping, required=bool(settings.redis_cluster_nodes)),
        Check("registry", registry.ping, required=False),
    ]
    if policy is not None:
        checks.append(Check("policy_engine", policy.ping, required=not settings.opa_fail_open))
        checks.append(
            Check("policy_contract", policy.check_contract, required=not settings.opa_fail_open)
        )
    return Readiness(checks)


@asynccontextmanager
async def open_runtime(
    settings: Settings, temporal_target: str | None = None
) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        bus = await open_bus(settings, stack)
        store = await open_store(settings, stack)
        cache = await open_cache(settings, stack)
        leases = await open_leases(settings, stack)
        registry = await open_registry(settings, cache, stack)
        scheduler = build_scheduler(settings, registry, cache)
        policy = await open_policy(settings, store, stack)
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
        sla_monitor = await open_sla_monitor(settings, store, bus, cache, now_ms, stack)
        ml = build_ml_predictor(settings)
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
            by_reference_bytes=settings.flow_plan_by_reference_bytes,
        )
        operations = Operations(gateway, store, now_ms, settings.decision_hash_verify)
        checks = readiness(settings, gateway, bus, store, cache, registry, policy)
        schemas = await open_schema_registry(settings, stack)
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
            checks,
            sla_monitor,
            schemas,
            leases=leases,
        )


# ---------------------------------------------------------------- ML
# scikit-learn, numpy and MLflow load only when ML_PREDICTIONS_ENABLED: the imports below stay
# inside the functions so a service with ML off starts without them (about 2.4 s of CPU).


def open_model_registry(settings: Settings) -> ModelRegistry:
    """MLflow at MLFLOW_TRACKING_URI (or the older ML_MODEL_REGISTRY_URI), else embedded in
    DATA_DIR (SQLite and an artifact directory, no server)."""
    from orchestrator_dynamic.adapters.ml.mlflow_registry import MlflowRegistry

    uri = settings.mlflow_tracking_uri or settings.ml_model_registry_uri
    if uri:
        return MlflowRegistry(uri, settings.mlflow_experiment_name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return MlflowRegistry.embedded(settings.data_dir, settings.mlflow_experiment_name)


def build_ml_predictor(settings: Settings) -> MLPredictor | None:
    """The C3 predictor when ML_PREDICTIONS_ENABLED."""
    if not settings.ml_predictions_enabled:
        return None
    from orchestrator_dynamic.services.ml.predictor import MLPredictor

    return MLPredictor(
        open_model_registry(settings),
        settings.ml_model_cache_ttl_seconds,
        settings.ml_drift_window,
    )

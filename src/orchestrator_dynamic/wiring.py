"""Which adapter backs each port, chosen from settings (URLs and hosts). Used by bootstrap only."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus, KafkaSecurity
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.cache.redis import RedisCache
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
from orchestrator_dynamic.domain.ports import (
    Cache,
    MessageBus,
    Publisher,
    Scheduler,
    Store,
    WorkerRegistry,
)
from orchestrator_dynamic.domain.sla_budget import HOUR_MS, BudgetPolicy
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.services.intake import Decoder
from orchestrator_dynamic.services.policy import PolicyConfig, PolicyValidator
from orchestrator_dynamic.services.readiness import Check, Readiness
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from orchestrator_dynamic.services.sla_monitor import SlaMonitor, SlaMonitorConfig
from orchestrator_dynamic.settings import Settings


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


async def open_cache(settings: Settings, stack: AsyncExitStack) -> Cache:
    if not settings.redis_cluster_nodes:
        return MemoryCache()
    cache = RedisCache(
        settings.redis_nodes(),
        settings.redis_password.get_secret_value() or None,
    )
    await cache.start()
    stack.push_async_callback(cache.stop)
    return cache


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


def build_scheduler(settings: Settings, registry: WorkerRegistry, cache: Cache) -> Scheduler:
    config = SchedulerConfig(
        weights=settings.priority_weights(),
        intelligent=settings.enable_intelligent_scheduler,
        max_results=settings.service_registry_max_results,
        cache_ttl_seconds=settings.service_registry_cache_ttl_seconds,
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
    gateway: FlowGateway,
    bus: Any,
    store: Any,
    cache: Any,
    registry: Any,
    policy: Any,
) -> Readiness:
    checks = [
        Check("workflow_engine", gateway.ping),
        Check("bus", bus.ping),
        # Fail-open keeps working through a store outage (writes wait in the spool), so the
        # store only decides readiness when writes would otherwise fail.
        Check("store", store.ping, required=not settings.store_fail_open),
        Check("cache", cache.ping, required=bool(settings.redis_cluster_nodes)),
        Check("registry", registry.ping, required=False),
    ]
    if policy is not None and hasattr(policy, "ping"):
        checks.append(Check("policy_engine", policy.ping, required=not settings.opa_fail_open))
        checks.append(
            Check("policy_contract", policy.check_contract, required=not settings.opa_fail_open)
        )
    return Readiness(checks)


def open_model_registry(settings: Settings) -> Any:
    """MLflow at MLFLOW_TRACKING_URI (or the older ML_MODEL_REGISTRY_URI), else embedded in
    DATA_DIR (SQLite and an artifact directory, no server)."""
    from orchestrator_dynamic.adapters.ml.mlflow_registry import MlflowRegistry

    uri = settings.mlflow_tracking_uri or settings.ml_model_registry_uri
    if uri:
        return MlflowRegistry(uri, settings.mlflow_experiment_name)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return MlflowRegistry.embedded(settings.data_dir, settings.mlflow_experiment_name)


def build_ml_predictor(settings: Settings) -> Any:
    """The C3 predictor when ML_PREDICTIONS_ENABLED (scikit-learn loads only then)."""
    if not settings.ml_predictions_enabled:
        return None
    from orchestrator_dynamic.services.ml.predictor import MLPredictor

    return MLPredictor(
        open_model_registry(settings),
        settings.ml_model_cache_ttl_seconds,
        settings.ml_drift_window,
    )


def ml_loops(
    settings: Settings, store: Any, steps: Any, clock_ms: Callable[[], int]
) -> dict[str, Any]:
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

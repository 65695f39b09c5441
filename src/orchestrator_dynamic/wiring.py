"""Which adapter backs each port, chosen from settings (URLs and hosts). Used by bootstrap only."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus, KafkaSecurity
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.adapters.serialization.avro import decode_message
from orchestrator_dynamic.adapters.serialization.schema_registry import SchemaRegistryClient
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.store.sqlite import SqliteStore
from orchestrator_dynamic.domain.ports import Cache, MessageBus, Scheduler, Store, WorkerRegistry
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.services.intake import Decoder
from orchestrator_dynamic.services.readiness import Check, Readiness
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
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
    raise UnsupportedBackend(f"STORE_URL scheme {scheme!r} is not supported (sqlite, memory)")


async def open_store(settings: Settings, stack: AsyncExitStack) -> Store:
    store = build_store(store_url(settings), settings)
    await store.start()
    stack.push_async_callback(store.stop)
    return store


async def open_cache(settings: Settings, stack: AsyncExitStack) -> Cache:
    if settings.redis_cluster_nodes:
        raise UnsupportedBackend("REDIS_CLUSTER_NODES is set but this build has no Redis adapter")
    return MemoryCache()


async def open_registry(settings: Settings, cache: Cache, stack: AsyncExitStack) -> WorkerRegistry:
    if settings.service_registry_host:
        raise UnsupportedBackend("SERVICE_REGISTRY_HOST is set but this build has no gRPC client")
    return BuiltinRegistry(
        settings.worker_heartbeat_degraded_seconds, settings.worker_heartbeat_unhealthy_seconds
    )


def build_scheduler(settings: Settings, registry: WorkerRegistry, cache: Cache) -> Scheduler:
    config = SchedulerConfig(
        weights=settings.priority_weights(),
        intelligent=settings.enable_intelligent_scheduler,
    )
    return IntelligentScheduler(registry, cache, config)


async def open_policy(settings: Settings, store: Store, stack: AsyncExitStack) -> Any | None:
    # Policies are evaluated once the policy engine adapters land; until then C1 applies the
    # domain rules only.
    return None


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
        Check("store", store.ping),
        Check("cache", cache.ping, required=bool(settings.redis_cluster_nodes)),
        Check("registry", registry.ping, required=False),
    ]
    if policy is not None and hasattr(policy, "ping"):
        checks.append(Check("policy_engine", policy.ping, required=not settings.opa_fail_open))
    return Readiness(checks)


def describe(settings: Settings) -> str:
    return json.dumps(
        {"store": store_url(settings), "bus": settings.kafka_bootstrap_servers or "local"}
    )

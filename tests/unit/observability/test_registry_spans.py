"""Registry calls are traced: one client span per discovery, the failure recorded on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.errors import RegistryUnavailable
from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.services.discovery import CachedDiscovery, Query


class DownRegistry(BuiltinRegistry):
    async def discover(self, capabilities: Sequence[str], **kwargs: Any) -> list[WorkerProfile]:
        raise RegistryUnavailable("registry", "connection refused")


def _spans(exporter: InMemorySpanExporter, capability: str) -> list[Any]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.name == "registry.discover"
        and capability in (dict(s.attributes or {}).get("registry.capabilities") or ())
    ]


async def test_a_discovery_is_one_client_span(span_exporter: InMemorySpanExporter) -> None:
    registry = BuiltinRegistry()
    await registry.register(WorkerProfile("w-1", frozenset({"span-cap"})))
    discovery = CachedDiscovery(registry, MemoryCache(), 0)
    found = await discovery.discover(Query(("span-cap",), None, None, 5))
    assert [w.worker_id for w in found.workers] == ["w-1"]
    [span] = _spans(span_exporter, "span-cap")
    attrs = dict(span.attributes or {})
    assert attrs["registry.workers_found"] == 1 and attrs["registry.max_results"] == 5


async def test_a_failed_discovery_is_an_error_span(span_exporter: InMemorySpanExporter) -> None:
    discovery = CachedDiscovery(DownRegistry(), MemoryCache(), 0)
    found = await discovery.discover(Query(("down-cap",), None, None, 5))
    assert found.fallback
    [span] = _spans(span_exporter, "down-cap")
    assert span.status.status_code is StatusCode.ERROR
    assert any(e.name == "exception" for e in span.events)

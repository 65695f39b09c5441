"""Two SLA monitors (two replicas, each with its own client) sharing one real redis-server
send an alert once; the other replica counts a de-duplication hit."""

from __future__ import annotations

import json
import uuid

import pytest

from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.services.sla_monitor import SlaMonitor, SlaMonitorConfig
from tests.fakes import MemoryStoreFake, RecordingPublisher
from tests.unit.sla.factory import T0, ticket
from tests.unit.sla.test_monitor import Clock, sample

pytestmark = pytest.mark.integration

CONFIG = SlaMonitorConfig(service_name="orch", dedup_ttl_s=300.0, interval_s=30.0)


async def test_two_replicas_on_one_redis_send_one_alert(redis_port: int) -> None:
    publisher, clock = RecordingPublisher(), Clock(T0 + 90_000)  # 90 % of the deadline consumed
    caches = [RedisCache([("127.0.0.1", redis_port)]) for _ in range(2)]
    for cache in caches:
        await cache.start()
    replicas = [SlaMonitor(MemoryStoreFake(), publisher, c, clock, CONFIG) for c in caches]
    shared = ticket(f"t-{uuid.uuid4().hex[:8]}")  # the server outlives the test: a fresh key
    hits = sample("orchestration_sla_alert_deduplication_hits_total")
    try:
        for replica in replicas:
            await replica.checkpoint("c4_publish", "wf-redis", [shared])
    finally:
        for cache in caches:
            await cache.stop()
    alerts = [json.loads(r.value) for r in publisher.topic("sla.alerts")]
    assert [a["alert_type"] for a in alerts] == ["DEADLINE_APPROACHING"]
    assert alerts[0]["ticket_id"] == shared.ticket_id
    assert sample("orchestration_sla_alert_deduplication_hits_total") == hits + 1

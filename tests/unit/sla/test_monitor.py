"""The SLA monitor over in-memory ports: what it sends, to which topic, and only once per TTL.

The "two monitors, one cache" test is parametrized over cache factories so a Redis-backed cache
can be added next to MemoryCache without touching the test body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.domain.errors import DependencyDown
from orchestrator_dynamic.domain.ports import Cache, Collection
from orchestrator_dynamic.domain.sla_budget import HOUR_MS, BudgetStatus, ErrorBudget
from orchestrator_dynamic.services.sla_monitor import SlaMonitor, SlaMonitorConfig
from tests.fakes import MemoryStoreFake, RecordingPublisher
from tests.unit.sla.factory import T0, WINDOW_MS, result, stored, ticket


class Clock:
    """Epoch-ms clock the test moves by hand."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


CONFIG = SlaMonitorConfig(service_name="orch", dedup_ttl_s=300.0, interval_s=30.0)
CACHES: dict[str, Callable[[], Cache]] = {"memory": MemoryCache}


def monitor(
    publisher: RecordingPublisher,
    cache: Cache,
    clock: Clock,
    store: MemoryStoreFake | None = None,
    config: SlaMonitorConfig = CONFIG,
    management: Any = None,
) -> SlaMonitor:
    return SlaMonitor(store or MemoryStoreFake(), publisher, cache, clock, config, management)


def events(publisher: RecordingPublisher, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in publisher.topic(topic)]


async def test_checkpoint_alerts_once_per_ttl_and_counts_the_duplicate() -> None:
    pub, clock = RecordingPublisher(), Clock(T0 + 85_000)
    wall = [0.0]
    mon = monitor(pub, MemoryCache(clock=lambda: wall[0]), clock)
    hits = sample("orchestration_sla_alert_deduplication_hits_total")
    sent = sample(
        "orchestration_sla_alerts_sent_total", alert_type="DEADLINE_APPROACHING", severity="warning"
    )

    first = await mon.checkpoint("c4_publish", "wf-1", [ticket()])
    second = await mon.checkpoint("c4_publish", "wf-1", [ticket()])
    assert first is not None and second is not None
    assert (first.alerts_sent, second.alerts_sent, second.duplicates) == (1, 0, 1)
    [alert] = events(pub, "sla.alerts")
    assert alert["event_type"] == "ALERT"
    assert alert["alert_type"] == "DEADLINE_APPROACHING"
    assert alert["severity"] == "warning"
    assert (alert["ticket_id"], alert["workflow_id"]) == ("t-1", "wf-1")
    assert alert["details"] == {"remaining_ms": 15_000, "consumed": 0.85}
    assert sample("orchestration_sla_alert_deduplication_hits_total") == hits + 1
    assert (
        sample(
            "orchestration_sla_alerts_sent_total",
            alert_type="DEADLINE_APPROACHING",
            severity="warning",
        )
        == sent + 1
    )

    wall[0] = 300.0  # the de-dup key expires: the alert may go out again
    await mon.checkpoint("c4_publish", "wf-1", [ticket()])
    assert len(events(pub, "sla.alerts")) == 2


@pytest.mark.parametrize("make_cache", CACHES.values(), ids=list(CACHES))
async def test_two_monitors_sharing_one_cache_send_one_alert(
    make_cache: Callable[[], Cache],
) -> None:
    pub, clock, cache = RecordingPublisher(), Clock(T0 + 90_000), make_cache()
    replicas = [monitor(pub, cache, clock), monitor(pub, cache, clock)]
    hits = sample("orchestration_sla_alert_deduplication_hits_total")
    for replica in replicas:
        await replica.checkpoint("c4_publish", "wf-1", [ticket("t-shared")])
    assert len(events(pub, "sla.alerts")) == 1
    assert sample("orchestration_sla_alert_deduplication_hits_total") == hits + 1


async def test_below_threshold_and_disabled_send_nothing() -> None:
    pub, clock = RecordingPublisher(), Clock(T0 + 79_999)
    await monitor(pub, MemoryCache(), clock).checkpoint("c4_publish", "wf-1", [ticket()])
    clock.now = T0 + 95_000
    off = SlaMonitorConfig(proactive=False)
    assert (
        await monitor(pub, MemoryCache(), clock, config=off).checkpoint(
            "c4_publish", "wf-1", [ticket()]
        )
        is None
    )
    assert pub.records == []


async def test_periodic_scan_publishes_violations_with_duration_and_source() -> None:
    store, pub, clock = MemoryStoreFake(), RecordingPublisher(), Clock(T0 + 130_000)
    late = ticket("late", "COMPLETED", started_at=T0, completed_at=T0 + 110_000)
    reported = ticket("rep", "COMPLETED", completed_at=T0 + 120_000, actual_duration_ms=7_000)
    timeout = ticket("to", "FAILED", error_message="timed out after 100000 ms")
    running = ticket("run", "RUNNING", started_at=T0 + 10_000)  # past deadline, still open
    for t in (late, reported, timeout, running):
        await store.put(Collection.TICKETS, t.ticket_id, stored(t, "wf-7", clock.now - 1_000))
    await store.put(Collection.TICKETS, "junk", {"status": "RUNNING", "timestamp": 1})
    errors = sample("orchestration_sla_monitor_errors_total", error_type="bad_record")
    scans = sample("orchestration_sla_check_duration_seconds_count", check_type="periodic")

    report = await monitor(pub, MemoryCache(), clock, store).check_stored_tickets()

    assert sample("orchestration_sla_check_duration_seconds_count", check_type="periodic") == (
        scans + 1
    )

    got = {e["ticket_id"]: e for e in events(pub, "sla.violations")}
    assert report.violations_sent == 4
    assert {
        k: (v["violation_type"], v["duration_ms"], v["duration_source"]) for k, v in got.items()
    } == {
        "late": ("DEADLINE_EXCEEDED", 110_000, "calculated"),
        "rep": ("DEADLINE_EXCEEDED", 7_000, "persisted"),
        "to": ("TIMEOUT", 130_000, "estimated"),
        "run": ("DEADLINE_EXCEEDED", 120_000, "estimated"),
    }
    assert all(e["event_type"] == "VIOLATION" and e["workflow_id"] == "wf-7" for e in got.values())
    assert got["to"]["severity"] == "critical"
    assert got["run"]["overrun_ms"] == 30_000
    assert sample("orchestration_sla_monitor_errors_total", error_type="bad_record") == errors + 1
    [wf] = report.workflows
    assert (wf.workflow_id, wf.status.value) == ("wf-7", "VIOLATED")


async def test_bus_down_fails_open_and_releases_the_dedup_key() -> None:
    pub, clock = RecordingPublisher(), Clock(T0 + 90_000)
    mon = monitor(pub, MemoryCache(), clock)
    errors = sample("orchestration_sla_monitor_errors_total", error_type="BusUnavailable")
    pub.down = True
    assert await mon.checkpoint("c4_publish", "wf-1", [ticket()]) is None
    assert (
        sample("orchestration_sla_monitor_errors_total", error_type="BusUnavailable") == errors + 1
    )
    pub.down = False
    report = await mon.checkpoint("c4_publish", "wf-1", [ticket()])
    assert report is not None and report.alerts_sent == 1  # not swallowed by the de-dup key


async def test_budget_check_alerts_on_critical_budget_and_fast_burn() -> None:
    now = T0 + 48 * HOUR_MS
    store, pub = MemoryStoreFake(), RecordingPublisher()
    # 100 workflows in the last 30 min, 1 failed: 1 % bad at a 99 % target leaves 0 % budget.
    for i in range(100):
        status = "FAILED" if i == 0 else "COMPLETED"
        await store.put(
            Collection.WORKFLOW_RESULTS, f"wf-{i}", result(f"wf-{i}", status, now - 60_000)
        )
    await store.put(Collection.WORKFLOW_RESULTS, "refused", result("refused", "REFUSED", now))
    mon = monitor(pub, MemoryCache(), Clock(now), store)

    report = await mon.check_budgets()

    alerts = {e["alert_type"]: e for e in events(pub, "sla.alerts")}
    assert report.alerts_sent == 1
    assert alerts["BUDGET_CRITICAL"]["details"]["status"] == "EXHAUSTED"
    assert alerts["BUDGET_CRITICAL"]["details"]["total_events"] == 100
    slo = "orch-workflow-success-30d"
    assert (
        sample("orchestration_sla_budget_remaining_percent", service_name="orch", slo_id=slo) == 0
    )
    assert sample("orchestration_sla_budget_status", service_name="orch", slo_id=slo) == 3
    assert sample("orchestration_sla_burn_rate", service_name="orch", window_hours="1") == 1.0

    for i in range(100, 131):  # 31 more failures: 32 of 131 bad in the last hour
        await store.put(Collection.WORKFLOW_RESULTS, f"wf-{i}", result(f"wf-{i}", "FAILED", now))
    await mon.check_budgets()
    burn = [e for e in events(pub, "sla.alerts") if e["alert_type"] == "BURN_RATE_HIGH"]
    assert len(burn) == 1  # (32/131) / 0.01 = 24.4x >= 14.4x; BUDGET_CRITICAL de-duplicated
    assert burn[0]["severity"] == "critical"
    assert burn[0]["details"]["window_hours"] == 1


class Management:
    def __init__(self, answer: list[ErrorBudget] | None) -> None:
        self.answer = answer

    async def budgets(self, service_name: str) -> list[ErrorBudget] | None:
        return self.answer


async def test_external_budgets_preferred_and_own_computation_when_unavailable() -> None:
    external = ErrorBudget("orch", "ext-slo", 0.999, 0, 0, 0.1, BudgetStatus.CRITICAL, {1: 2.0})
    pub = RecordingPublisher()
    mon = monitor(pub, MemoryCache(), Clock(T0), management=Management([external]))
    assert [b.slo_id for b in await mon.budgets()] == ["ext-slo"]
    await mon.check_budgets()
    assert events(pub, "sla.alerts")[0]["details"]["slo_id"] == "ext-slo"

    down = monitor(pub, MemoryCache(), Clock(T0), management=Management(None))
    [own] = await down.budgets()
    assert own.source == "workflow_results" and own.status is BudgetStatus.HEALTHY


async def test_run_once_survives_a_store_outage() -> None:
    class DownStore(MemoryStoreFake):
        async def find(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            raise DependencyDown("store", "down for the test")

    mon = monitor(RecordingPublisher(), MemoryCache(), Clock(T0), DownStore())
    errors = sample("orchestration_sla_monitor_errors_total", error_type="DependencyDown")
    report = await mon.run_once()
    assert report.alerts_sent == 0
    assert (
        sample("orchestration_sla_monitor_errors_total", error_type="DependencyDown") == errors + 2
    )


async def test_violation_is_reported_once_a_day_and_orphans_are_ignored() -> None:
    store, pub, clock = MemoryStoreFake(), RecordingPublisher(), Clock(T0 + 130_000)
    wall = [0.0]
    mon = monitor(pub, MemoryCache(clock=lambda: wall[0]), clock, store)
    late = ticket("late", "RUNNING")
    await store.put(Collection.TICKETS, "late", stored(late, "wf-1", T0))
    await mon.check_stored_tickets()
    wall[0] = 301.0  # past the 300 s alert TTL, within a day
    await mon.check_stored_tickets()
    assert len(pub.topic("sla.violations")) == 1

    clock.now = T0 + 100_000 + 86_400_000 + 1  # a day past its deadline and still "RUNNING"
    wall[0] = 90_000.0
    report = await mon.check_stored_tickets()
    assert report.workflows == [] and len(pub.topic("sla.violations")) == 1
    assert await mon.at_risk() == []


async def test_remaining_seconds_and_approaching_count_follow_the_open_tickets() -> None:
    """orchestration_sla_remaining_seconds{workflow_id} tracks the nearest open deadline and is
    dropped once nothing is open; orchestration_deadline_approaching_total counts each ticket
    that crossed the warning threshold once (duplicates are not counted)."""
    pub, clock = RecordingPublisher(), Clock(T0 + 85_000)
    mon = monitor(pub, MemoryCache(), clock)
    approaching = sample("orchestration_deadline_approaching_total")
    await mon.checkpoint("c4_publish", "wf-gauge", [ticket("g-1"), ticket("g-2", "COMPLETED")])
    await mon.checkpoint("c4_publish", "wf-gauge", [ticket("g-1")])
    remaining = sample("orchestration_sla_remaining_seconds", workflow_id="wf-gauge")
    assert remaining == (T0 + WINDOW_MS - clock.now) / 1000
    assert sample("orchestration_deadline_approaching_total") == approaching + 1
    await mon.checkpoint("c4_publish", "wf-gauge", [ticket("g-1", "COMPLETED")])
    assert (
        REGISTRY.get_sample_value(
            "orchestration_sla_remaining_seconds", {"workflow_id": "wf-gauge"}
        )
        is None
    )

"""C4 publish calls the SLA monitor after the tickets are out (the proactive checkpoint)."""

from __future__ import annotations

import dataclasses
import json

from temporalio.testing import ActivityEnvironment

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.errors import DependencyDown
from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.payloads import (
    FlowOptions,
    GenerateInput,
    PublishInput,
    TicketRecord,
)
from orchestrator_dynamic.flow.steps import FlowDeps, FlowSteps
from orchestrator_dynamic.services.sla_monitor import SlaMonitor
from tests.conftest import decision_doc
from tests.fakes import CapabilityScheduler, MemoryStoreFake, RecordingPublisher
from tests.unit.sla.factory import T0, ticket


def steps(
    publisher: RecordingPublisher, store: MemoryStoreFake, sla: SlaMonitor | None
) -> FlowSteps:
    clock = lambda: T0 + 90_000  # noqa: E731 - a fixed instant, 90 % into the SLA window
    return FlowSteps(FlowDeps(publisher, store, CapabilityScheduler(), clock, sla=sla))


async def test_publish_then_checkpoint_alerts_on_tickets_over_the_threshold() -> None:
    pub, store = RecordingPublisher(), MemoryStoreFake()
    monitor = SlaMonitor(store, pub, MemoryCache(), lambda: T0 + 90_000)
    inp = PublishInput("wf-c4", [TicketRecord(ticket("c4-ticket", workflow_id="wf-c4"))])
    await steps(pub, store, monitor).publish(inp)
    assert [r.topic for r in pub.records] == ["execution.tickets", "sla.alerts"]
    alert = json.loads(pub.topic("sla.alerts")[0].value)
    assert (alert["ticket_id"], alert["workflow_id"]) == ("c4-ticket", "wf-c4")


async def test_publish_without_monitor_or_with_a_failing_cache_still_succeeds() -> None:
    class BrokenCache(MemoryCache):
        async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
            raise DependencyDown("cache", "down for the test")

    pub, store = RecordingPublisher(), MemoryStoreFake()
    await steps(pub, store, None).publish(PublishInput("wf-a", [TicketRecord(ticket("a"))]))
    assert [r.topic for r in pub.records] == ["execution.tickets"]
    # The cache cannot tell whether it was sent: the alert goes out (a duplicate beats a loss).
    monitor = SlaMonitor(store, pub, BrokenCache(), lambda: T0 + 90_000)
    await steps(pub, store, monitor).publish(PublishInput("wf-b", [TicketRecord(ticket("b"))]))
    assert len(pub.topic("sla.alerts")) == 1


async def test_c2_activity_checks_the_generated_tickets() -> None:
    """The C2 activity runs the checkpoint on the tickets it built (no new activity needed)."""
    created = T0
    pub, store = RecordingPublisher(), MemoryStoreFake()
    clock = [created]
    monitor = SlaMonitor(store, pub, MemoryCache(), lambda: clock[0])
    deps = FlowDeps(pub, store, CapabilityScheduler(), lambda: clock[0], sla=monitor)
    activities = FlowActivities(FlowSteps(deps))
    inp = GenerateInput(parse_decision(decision_doc("approve-5-task-dag")), created, FlowOptions())

    env = ActivityEnvironment()
    # As in production: the Flow C workflow's id is the decision id.
    env.info = dataclasses.replace(env.info, workflow_id=inp.decision.decision_id)
    run = env.run
    tickets = await run(activities.generate_tickets, inp)
    assert len(tickets) == 5 and pub.records == []  # fresh tickets: nothing to say

    # The same step, run late (a retried activity, a backlog): every ticket is past its deadline.
    clock[0] = created + max(t.sla.timeout_ms for t in tickets)
    await run(activities.generate_tickets, inp)
    violations = [json.loads(r.value) for r in pub.topic("sla.violations")]
    assert sorted(v["ticket_id"] for v in violations) == sorted(t.ticket_id for t in tickets)
    assert {v["workflow_id"] for v in violations} == {tickets[0].metadata["workflow_id"]}
    assert {v["duration_source"] for v in violations} == {"estimated"}


async def test_an_unexpected_monitor_error_never_fails_the_step() -> None:
    class Exploding(MemoryCache):
        async def add(self, key: str, value: bytes, ttl_seconds: float) -> bool:
            raise RuntimeError("a bug in a cache adapter")

    pub, store = RecordingPublisher(), MemoryStoreFake()
    monitor = SlaMonitor(store, pub, Exploding(), lambda: T0 + 90_000)
    await steps(pub, store, monitor).publish(PublishInput("wf-x", [TicketRecord(ticket("x"))]))
    assert [r.topic for r in pub.records] == ["execution.tickets"]

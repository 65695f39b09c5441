"""No silent stall (real Temporal dev server): a step whose error retrying cannot fix fails at
once with the reason and an incident; a bug is retried a bounded number of times, then does the
same; a dependency outage is retried without limit but shows in `status`, in a counter and in the
stuck-workflows gauge, and the plan carries on once the dependency is back.

Stand-ins: the bus is the recording publisher of the other flow tests; its Kafka authorisation
refusal is aiokafka's own TopicAuthorizationFailedError passed through the Kafka adapter's
translation, because no broker here enforces ACLs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aiokafka import errors as kafka_errors
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.bus.kafka_errors import translate
from orchestrator_dynamic.domain.errors import RegistryUnavailable
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.ports import Allocation, Collection
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.flow.payloads import WorkflowStatus, WorkflowView
from orchestrator_dynamic.flow.retrying import BOARD
from tests.conftest import decision_bytes
from tests.fakes import CapabilityScheduler, RecordingPublisher
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import WORKERS, FlowRig
from tests.integration.flow.test_replay_and_scale import replayer

pytestmark = pytest.mark.integration


class RefusingBus(RecordingPublisher):
    """Refuses every ticket with the error the Kafka adapter raises for a missing topic ACL."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if topic == "execution.tickets":
            self.refused += 1
            exc = kafka_errors.TopicAuthorizationFailedError()
            raise translate(exc, f"publish to {topic}") from exc
        await super().publish(topic, value, key=key, headers=headers)


class BuggyScheduler(CapabilityScheduler):
    calls: int = 0

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        self.calls += 1
        return {}["no such key"]  # type: ignore[no-any-return]


class FlakyRegistryScheduler(CapabilityScheduler):
    down: bool = True

    async def allocate(
        self,
        ticket: ExecutionTicket,
        now_ms: int,
        *,
        intelligent: bool | None = None,
        weights: PriorityWeights | None = None,
    ) -> Allocation:
        if self.down:
            raise RegistryUnavailable("registry", "connection refused by the test")
        return await super().allocate(ticket, now_ms)


@pytest.fixture
def stuck_after_half_a_second() -> Iterator[None]:
    before = BOARD.stuck_after_s
    BOARD.stuck_after_s = 0.5
    yield
    BOARD.stuck_after_s = before


def retries(activity: str, error_type: str) -> float:
    labels = {"activity": activity, "error_type": error_type}
    return REGISTRY.get_sample_value("orchestration_activity_retries_total", labels) or 0.0


def stuck(activity: str, dependency: str) -> float:
    labels = {"activity": activity, "dependency": dependency}
    return REGISTRY.get_sample_value("orchestration_stuck_workflows", labels) or 0.0


async def waiting_view(rig: FlowRig, workflow_id: str, attempt: int) -> WorkflowView:
    async with asyncio.timeout(30):
        while True:
            view = await rig.gateway.view(workflow_id)
            if view.waiting is not None and view.waiting["attempt"] >= attempt:
                return view
            await asyncio.sleep(0.1)


async def test_a_kafka_authorisation_refusal_fails_the_step_at_once(temporal_env: Any) -> None:
    bus = RefusingBus()
    rig = FlowRig(temporal_env.client, FAST, lambda t: True, bus=bus)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id, timeout_s=20)
    assert bus.refused == 1  # one attempt: an ACL does not change by retrying
    assert view.status is WorkflowStatus.FAILED
    assert view.reason.startswith("C4_DISPATCH failed: Unauthorized: kafka refused publish to")
    assert "TopicAuthorizationFailedError" in view.reason
    incidents = [json.loads(r.value) for r in bus.topic("orchestration.incidents")]
    assert len(incidents) == 1
    assert incidents[0]["incident_type"] == "INCONSISTENCY"
    assert incidents[0]["details"][0] == view.reason
    stored = await rig.store.get(Collection.WORKFLOW_RESULTS, submission.workflow_id)
    assert stored is not None and stored["status"] == "FAILED"
    assert stored["reason"] == view.reason
    history = await rig.client.get_workflow_handle(submission.workflow_id).fetch_history()
    assert (await replayer().replay_workflow(history)).replay_failure is None


async def test_a_bug_is_retried_a_bounded_number_of_times_then_fails_with_an_incident(
    temporal_env: Any,
) -> None:
    scheduler = BuggyScheduler(workers={k: set(v) for k, v in WORKERS.items()})
    rig = FlowRig(
        temporal_env.client, FAST, lambda t: True, scheduler=scheduler, unexpected_max_attempts=3
    )
    before = retries("c3_allocate", "KeyError")
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id, timeout_s=30)
    assert scheduler.calls == 3
    assert retries("c3_allocate", "KeyError") - before == 2  # the third attempt is the last
    assert view.status is WorkflowStatus.FAILED
    assert view.reason == (
        "C3_ALLOCATE failed: KeyError: 'no such key' (unexpected, after 3 attempts)"
    )
    incident = json.loads(rig.bus.topic("orchestration.incidents")[0].value)
    assert incident["details"][0] == view.reason
    assert rig.tickets_published() == []


async def test_a_bus_outage_waits_visibly_then_the_plan_carries_on(
    temporal_env: Any, stuck_after_half_a_second: None
) -> None:
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    rig.bus.down = True
    before = retries("c4_publish_tickets", "BusUnavailable")
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        first = await waiting_view(rig, submission.workflow_id, attempt=1)
        later = await waiting_view(rig, submission.workflow_id, attempt=3)
        assert first.waiting is not None and later.waiting is not None
        assert later.status is WorkflowStatus.RUNNING and later.step == "C4_DISPATCH"
        assert later.waiting["dependency"] == "bus"
        assert later.waiting["activity"] == "c4_publish_tickets"
        assert later.waiting["message"].startswith("waiting for bus since 20")
        assert later.waiting["since_ms"] == first.waiting["since_ms"]  # one wait, not three
        assert "stopped by the test" in later.waiting["reason"]
        assert retries("c4_publish_tickets", "BusUnavailable") - before >= 3
        assert stuck("c4_publish_tickets", "bus") >= 1
        rig.bus.down = False
        view = await rig.finished_view(submission.workflow_id, timeout_s=60)
    assert view.status is WorkflowStatus.COMPLETED
    assert view.waiting is None
    assert stuck("c4_publish_tickets", "bus") == 0


async def test_a_registry_outage_in_a_local_activity_shows_too(temporal_env: Any) -> None:
    scheduler = FlakyRegistryScheduler(workers={k: set(v) for k, v in WORKERS.items()})
    rig = FlowRig(temporal_env.client, FAST, lambda t: True, scheduler=scheduler)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await waiting_view(rig, submission.workflow_id, attempt=2)
        assert view.waiting is not None and view.step == "C3_ALLOCATE"
        assert view.waiting["message"].startswith("waiting for registry since")
        scheduler.down = False
        view = await rig.finished_view(submission.workflow_id, timeout_s=60)
    assert view.status is WorkflowStatus.COMPLETED
    assert view.waiting is None

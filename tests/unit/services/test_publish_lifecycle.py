"""C4 publish: a dispatch goes on the bus PENDING and is RUNNING in the store only once the bus
confirmed it; a stop notice goes out in the wire enum; the worker's output is kept."""

from __future__ import annotations

import json

import pytest

from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.model import ExecutionResultPayload, TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow.payloads import PublishInput, TelemetryInput, TicketRecord
from orchestrator_dynamic.services.flow_steps import FlowDeps, FlowSteps
from tests.fakes import CapabilityScheduler, MemoryStoreFake, Published, RecordingPublisher
from tests.unit.sla.factory import T0, ticket


def steps(publisher: RecordingPublisher, store: MemoryStoreFake) -> FlowSteps:
    return FlowSteps(FlowDeps(publisher, store, CapabilityScheduler(), lambda: T0 + 5))


async def test_dispatch_is_published_pending_and_stored_running_once_confirmed() -> None:
    pub, store = RecordingPublisher(), MemoryStoreFake()
    seen_in_store: list[dict[str, object]] = []

    async def at_publish(record: Published) -> None:
        seen_in_store.append(dict(store.data[Collection.TICKETS]["t1"]))

    pub.on("execution.tickets", at_publish)
    running = ticket("t1", "RUNNING", started_at=T0 + 1, workflow_id="wf")
    await steps(pub, store).publish(PublishInput("wf", [TicketRecord(running)]))
    [record] = pub.topic("execution.tickets")
    wire = json.loads(record.value)
    assert (wire["status"], wire["started_at"]) == ("PENDING", None)  # what a worker runs
    # while the bus had not confirmed, the record said PENDING (results can already be routed)
    assert (seen_in_store[0]["status"], seen_in_store[0]["started_at"]) == ("PENDING", None)
    stored = store.data[Collection.TICKETS]["t1"]
    assert (stored["status"], stored["started_at"]) == ("RUNNING", T0 + 1)


async def test_unconfirmed_publish_leaves_the_record_pending() -> None:
    pub, store = RecordingPublisher(), MemoryStoreFake()
    pub.down = True
    running = ticket("t1", "RUNNING", started_at=T0 + 1, workflow_id="wf")
    with pytest.raises(BusUnavailable):
        await steps(pub, store).publish(PublishInput("wf", [TicketRecord(running)]))
    assert store.data[Collection.TICKETS]["t1"]["status"] == "PENDING"


async def test_stop_notice_goes_out_as_failed_cancelled_and_is_stored_cancelled() -> None:
    pub, store = RecordingPublisher(), MemoryStoreFake()
    stopped = ticket("t1", "CANCELLED", started_at=T0 + 1, workflow_id="wf").model_copy(
        update={"error_message": "cancelled by alice: wrong target"}
    )
    await steps(pub, store).publish(PublishInput("wf", [TicketRecord(stopped)]))
    wire = json.loads(pub.topic("execution.tickets")[0].value)
    assert (wire["status"], wire["error_message"]) == ("FAILED", "cancelled")
    stored = store.data[Collection.TICKETS]["t1"]
    assert (stored["status"], stored["error_message"]) == (
        "CANCELLED",
        "cancelled by alice: wrong target",
    )
    assert TicketStatus(stored["status"]) is TicketStatus.CANCELLED


async def test_final_record_keeps_the_workers_output_and_logs() -> None:
    pub, store = RecordingPublisher(), MemoryStoreFake()
    done = ticket("t1", "COMPLETED", started_at=T0 + 1, workflow_id="wf")
    report = ExecutionResultPayload(success=True, output={"image": "app:1"}, logs=["ok"])
    await steps(pub, store).emit(TelemetryInput("wf", [], [TicketRecord(done, [], report)]))
    stored = store.data[Collection.TICKETS]["t1"]
    assert stored["result"] == {
        "success": True,
        "output": {"image": "app:1"},
        "metadata": {},
        "logs": ["ok"],
    }

"""Tickets and results as the platform's worker agents handle them, through a real bus.

Real: the bus (local SQLite file or Kafka on a tansu broker), the ResultIntake, the gateway and
the Temporal dev server. The worker agent is the stand-in of ``tests/upstream_worker.py``: it
runs only what the upstream ticket consumer would run, and answers in the upstream result
producer's shape, PREEMPTED and CANCELLED included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import pytest
from prometheus_client import REGISTRY

from orchestrator_dynamic.domain.ports import Collection, MessageBus
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from tests.conftest import decision_bytes
from tests.integration.bus.conftest import BusFactory, unique
from tests.integration.bus.intake_rig import IntakeRig
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig
from tests.upstream_worker import result_doc, skip_reason

pytestmark = pytest.mark.integration


class UpstreamWorker:
    """Consumes tickets from the bus like the upstream worker and answers on the results topic:
    t1-build is preempted once, t2-unit cancelled once, t3-scan first gets a result from an agent
    it is not allocated to; everything else completes."""

    def __init__(self, bus: MessageBus, tickets_topic: str, results_topic: str) -> None:
        self.bus = bus
        self.tickets_topic = tickets_topic
        self.results_topic = results_topic
        self.accepted: list[dict[str, Any]] = []
        self.skipped: list[tuple[dict[str, Any], str]] = []
        self.runs: Counter[str] = Counter()

    async def run(self) -> None:
        sub = await self.bus.subscribe([self.tickets_topic], unique("worker-agents"))
        try:
            while True:
                for message in await sub.poll(100, 200):
                    await self._take(json.loads(message.value))
                    await sub.commit(message)
        finally:
            await sub.close()

    async def _take(self, ticket: dict[str, Any]) -> None:
        reason = skip_reason(ticket)
        if reason is not None:
            self.skipped.append((ticket, reason))
            return
        self.accepted.append(ticket)
        task = ticket["task_id"]
        self.runs[task] += 1
        first = self.runs[task] == 1
        if task == "t1-build" and first:
            await self._send(result_doc(ticket, "PREEMPTED"))
        elif task == "t2-unit" and first:
            await self._send(result_doc(ticket, "CANCELLED"))
        elif task == "t3-scan" and first:
            await self._send(result_doc(ticket, "COMPLETED", agent_id="intruder"))
            await self._send(result_doc(ticket, "COMPLETED"))
        else:
            await self._send(result_doc(ticket, "COMPLETED"))

    async def _send(self, doc: dict[str, Any]) -> None:
        await self.bus.publish(self.results_topic, json.dumps(doc).encode(), key=doc["ticket_id"])


def foreign_count() -> float:
    labels = {"status": "COMPLETED"}
    return REGISTRY.get_sample_value("orchestration_results_foreign_agent_total", labels) or 0.0


async def test_upstream_worker_runs_every_ticket_and_its_results_are_applied(
    bus_factory: BusFactory, temporal_env: Any
) -> None:
    bus = await bus_factory()
    flow = FlowRig(temporal_env.client, FAST, lambda ticket: None)  # only the stand-in answers
    rig = IntakeRig(bus, flow)
    tickets_topic = unique("execution.tickets")

    async def forward(record: Any) -> None:
        await bus.publish(tickets_topic, record.value, key=record.key)

    flow.bus.on("execution.tickets", forward)
    worker = UpstreamWorker(bus, tickets_topic, rig.topics.results)
    before = foreign_count()
    async with flow.worker:
        results = await rig.result_intake()
        agent = asyncio.create_task(worker.run())
        try:
            submission = await flow.submit(json.loads(decision_bytes("approve-5-task-dag")))
            async with asyncio.timeout(90):
                while (await flow.gateway.view(submission.workflow_id)).status.terminal is False:
                    await results.run_once(timeout_ms=100)
            view = await flow.finished_view(submission.workflow_id)
        finally:
            agent.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent

    assert view.status is WorkflowStatus.COMPLETED, view.reason
    assert worker.skipped == [], "the upstream consumer would have skipped these"
    # 5 tickets, plus t1 again after its preemption and t2 again after its cancellation
    assert len(worker.accepted) == 7
    assert results.dead_lettered == 0, "PREEMPTED and CANCELLED results are accepted"
    by_task = {t.task_id: t for t in view.tickets}
    assert by_task["t1-build"].retry_count == 0, "a preemption uses no retry"
    assert by_task["t2-unit"].retry_count == 1, "a cancelled attempt is a failed attempt"
    assert by_task["t3-scan"].retry_count == 0
    assert {t.status for t in view.tickets} == {"COMPLETED"}

    record = await flow.store.get(Collection.TICKETS, by_task["t1-build"].ticket_id)
    assert record is not None and record["status"] == "COMPLETED"
    assert record["started_at"] is not None
    assert record["result"]["output"] == {"artifact": "t1-build.tar", "exit_code": "0"}
    assert record["result"]["logs"] == ["started t1-build", "finished t1-build"]
    events = [h["event"] for h in record["history"]]
    assert events[:3] == ["DISPATCHED", "PREEMPTED", "DISPATCHED"]

    scan = await flow.store.get(Collection.TICKETS, by_task["t3-scan"].ticket_id)
    assert scan is not None
    foreign = [h for h in scan["history"] if h["event"] == "FOREIGN_RESULT"]
    assert len(foreign) == 1 and foreign[0]["worker_id"] == "intruder"
    outcome = await flow.store.get(Collection.WORKFLOW_RESULTS, submission.workflow_id)
    assert outcome is not None
    assert [f["agent_id"] for f in outcome["foreign_results"]] == ["intruder"]
    assert foreign_count() - before == 1

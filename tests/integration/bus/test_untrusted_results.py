"""Property, end to end: hostile results through the bus and the API never change a finished
ticket, never crash the intake or the API, and each lands where the README's table says.

Real: the local bus, the ResultIntake, the HTTP API (in-process ASGI), Operations, the gateway and
a Temporal dev server. The agents are silent; the test answers every dispatched ticket itself,
in an order Hypothesis picks, over a channel it picks, with hostile results mixed in: another
agent's answers, results for tickets nobody owns, progress reports, duplicates, and (once a
ticket is COMPLETED in the store) a contradicting FAILED from its own worker. Once the workflow
has completed, a second hostile volley goes at its finished tickets.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.model import TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.domain.workflows import WorkflowStatus
from orchestrator_dynamic.entrypoints.api.app import create_app
from orchestrator_dynamic.flow.payloads import FlowOptions
from tests.conftest import decision_bytes
from tests.integration.bus.intake_rig import IntakeRig, renamed, suffix
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig
from tests.upstream_worker import result_doc

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer admin-token"}
TOKENS = {"admin-token": "admin", "tok-build": "worker:agent-build"}
CHANNELS = ("bus", "api")
HOSTILE = ("foreign", "foreign-failed", "unknown", "progress", "duplicate", "contradict")
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "COMPENSATING", "COMPENSATED"}


class Services:
    def __init__(self, rig: IntakeRig) -> None:
        self.operations = rig.operations
        self.store = rig.flow.store


class Driver:
    """Sends results over the bus or the API and keeps count of what each should become."""

    def __init__(self, rig: IntakeRig, http: httpx.AsyncClient) -> None:
        self.rig = rig
        self.http = http
        self.on_bus = 0
        self.unknown_on_bus = 0
        self.refused: list[int] = []

    async def send(self, doc: dict[str, Any], channel: str) -> None:
        if channel == "bus":
            await self.rig.bus.publish(self.rig.topics.results, json.dumps(doc).encode())
            self.on_bus += 1
            if doc["ticket_id"].startswith("nobody-"):
                self.unknown_on_bus += 1
            return
        answer = await self.http.post(
            f"/api/v1/tickets/{doc['ticket_id']}/result", json=doc, headers=ADMIN
        )
        # 202 applied or ignored; 404 for a ticket nobody owns: never a 5xx.
        expected = 404 if doc["ticket_id"].startswith("nobody-") else 202
        assert answer.status_code == expected, answer.text
        if expected == 202 and doc["ticket_id"] != "":
            assert answer.json()["status"] in ("accepted", "ignored")


def hostile(kind: str, ticket: dict[str, Any], agent: str) -> dict[str, Any]:
    if kind == "foreign":
        return result_doc(ticket, "COMPLETED", agent_id="intruder")
    if kind == "foreign-failed":
        return result_doc(ticket, "FAILED", agent_id="intruder")
    if kind == "unknown":
        return result_doc(dict(ticket, ticket_id=f"nobody-{suffix()}"), "COMPLETED", agent_id=agent)
    if kind == "progress":
        return result_doc(ticket, "RUNNING", agent_id=agent)
    if kind == "contradict":
        return result_doc(ticket, "FAILED", agent_id=agent, error_message="contradiction")
    return result_doc(ticket, "COMPLETED", agent_id=agent)  # duplicate


@pytest.fixture
async def setup(temporal_env: Any, tmp_path: Path) -> Any:
    flow = FlowRig(temporal_env.client, FAST, lambda ticket: None)  # the agents never answer
    bus = LocalBus(tmp_path / "bus.db")
    await bus.start()
    async with flow.worker:
        yield flow, bus
    await bus.stop()


plans = st.tuples(
    st.integers(0, 2**32 - 1),  # seeds the order of answers and the channels
    st.lists(st.tuples(st.sampled_from(HOSTILE), st.sampled_from(["bus", "api"])), max_size=12),
    st.lists(st.tuples(st.sampled_from(HOSTILE), st.sampled_from(["bus", "api"])), max_size=8),
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans)
async def test_hostile_results_never_change_a_finished_ticket(setup: Any, plan: Any) -> None:
    flow, bus = setup
    seed, during, after = plan
    rng = random.Random(seed)
    rig = IntakeRig(bus, flow)
    app = create_app(Services(rig), TOKENS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        await run_one(rig, Driver(rig, http), rng, during, after)


async def run_one(
    rig: IntakeRig,
    driver: Driver,
    rng: random.Random,
    during: list[tuple[str, str]],
    after: list[tuple[str, str]],
) -> None:
    flow = rig.flow
    decision_id, raw = renamed("approve-5-task-dag", suffix())
    await rig.operations.submit(raw)
    intake = await rig.result_intake()
    answered: set[str] = set()
    contradicted: set[str] = set()
    pending_hostile = list(during)
    async with asyncio.timeout(90):
        while (await flow.gateway.view(decision_id)).status is not WorkflowStatus.COMPLETED:
            fresh = [
                t
                for t in flow.tickets_published()
                if t.status is TicketStatus.PENDING
                and t.metadata.get("workflow_id") == decision_id
                and t.ticket_id not in answered
            ]
            rng.shuffle(fresh)  # answered out of dispatch order
            for ticket in fresh:
                answered.add(ticket.ticket_id)
                doc = json.loads(ticket.model_dump_json())
                agent = ticket.metadata["worker_id"]
                # Before the real answer: only what cannot change anything, whatever the order.
                while pending_hostile and pending_hostile[0][0] in (
                    "foreign",
                    "unknown",
                    "progress",
                ):
                    kind, channel = pending_hostile.pop(0)
                    await driver.send(hostile(kind, doc, agent), channel)
                await driver.send(
                    result_doc(doc, "COMPLETED", agent_id=agent), rng.choice(CHANNELS)
                )
            # Once the workflow has a ticket COMPLETED, its own worker contradicting it (and
            # repeating itself) changes nothing, while the rest of the plan still runs.
            done = {
                t.ticket_id
                for t in (await flow.gateway.view(decision_id)).tickets
                if t.status == "COMPLETED"
            }
            for ticket in flow.tickets_published():
                if ticket.ticket_id in done - contradicted:
                    contradicted.add(ticket.ticket_id)
                    doc = json.loads(ticket.model_dump_json())
                    for kind in ("contradict", "duplicate"):
                        await driver.send(
                            hostile(kind, doc, ticket.metadata["worker_id"]), rng.choice(CHANNELS)
                        )
            while pending_hostile:
                kind, channel = pending_hostile.pop(0)
                target = json.loads(rng.choice(flow.tickets_published()).model_dump_json())
                if kind in ("contradict", "duplicate"):
                    kind = "foreign"  # the ticket may be running: only another agent's answer
                await driver.send(hostile(kind, target, target["metadata"]["worker_id"]), channel)
            await intake.run_once(timeout_ms=50)
    view = await flow.finished_view(decision_id)
    assert view.status is WorkflowStatus.COMPLETED
    assert {t.status for t in view.tickets} == {"COMPLETED"}
    assert {t.retry_count for t in view.tickets} == {0}
    # Every ticket but the last was contradicted while the plan ran (the last one ends it).
    assert len(contradicted) >= len(view.tickets) - 1
    await rig.drain(intake, driver.on_bus)

    # The second volley, at a finished workflow: nothing it says changes any record.
    tickets = {
        t.ticket_id: await flow.store.get(Collection.TICKETS, t.ticket_id) for t in view.tickets
    }
    outcome = await flow.store.get(Collection.WORKFLOW_RESULTS, decision_id)
    for kind, channel in after:
        record = rng.choice(list(tickets.values()))
        assert record is not None
        await driver.send(hostile(kind, record, record["worker_id"]), channel)
    await rig.drain(intake, driver.on_bus)
    for ticket_id, record in tickets.items():
        assert await flow.store.get(Collection.TICKETS, ticket_id) == record
    assert await flow.store.get(Collection.WORKFLOW_RESULTS, decision_id) == outcome

    # Nothing crashed the intake; every record was handled or dead-lettered with its reason,
    # and only results nobody owns are on the DLQ.
    assert intake.handled + intake.dead_lettered == driver.on_bus
    assert intake.dead_lettered == driver.unknown_on_bus
    letters = await rig.dead_lettered(driver.unknown_on_bus)
    assert {m.header("dlq.reason_code") for m in letters} <= {"result.unknown_ticket"}
    assert len(letters) == driver.unknown_on_bus


async def test_a_result_after_the_sla_timer_fired_never_revives_the_ticket(
    temporal_env: Any, tmp_path: Path
) -> None:
    # 20 s estimates x 0.01 = 200 ms per attempt: l1's worker answers only after every attempt
    # timed out and the workflow ended FAILED.
    options = FlowOptions(
        min_timeout_ms=100, timeout_buffer=0.01, default_timeout_ms=200,
        retry_initial_ms=10, retry_max_ms=20,
    )  # fmt: skip
    flow = FlowRig(temporal_env.client, options, lambda t: None if t.task_id == "l1" else True)
    flow.agent_delay_s = 0
    bus = LocalBus(tmp_path / "bus.db")
    await bus.start()
    rig = IntakeRig(bus, flow)
    app = create_app(Services(rig), TOKENS)
    try:
        async with (
            flow.worker,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api"
            ) as http,
        ):
            submission = await flow.submit(decision_bytes("low-risk-lowercase-types"))
            view = await flow.finished_view(submission.workflow_id)
            assert view.status is WorkflowStatus.FAILED
            l1 = next(t for t in flow.tickets_published() if t.task_id == "l1")
            before = await flow.store.get(Collection.TICKETS, l1.ticket_id)
            assert before is not None and before["status"] == "FAILED"
            late = result_doc(
                json.loads(l1.model_dump_json()), "COMPLETED", agent_id=before["worker_id"]
            )
            intake = await rig.result_intake()
            driver = Driver(rig, http)
            await driver.send(late, "bus")
            answer = await http.post(
                f"/api/v1/tickets/{l1.ticket_id}/result", json=late, headers=ADMIN
            )
            await rig.drain(intake, 1)
    finally:
        await bus.stop()
    assert answer.status_code == 202
    assert answer.json()["status"] == "ignored"
    assert answer.json()["disposition"] == "ticket_finished"
    assert (intake.handled, intake.dead_lettered) == (1, 0)  # ignored, not dead-lettered
    assert await flow.store.get(Collection.TICKETS, l1.ticket_id) == before

"""Every decision fixture, JSON and Confluent Avro, through each bus into the intake and Flow C.

Real: the bus (local SQLite file or Kafka on a tansu broker), codec, DecisionIntake, Operations,
FlowGateway and a Temporal dev server. Outcomes are those of the fixtures README.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from orchestrator_dynamic.domain.decode import decision_hash, parse_decision
from orchestrator_dynamic.domain.model import TicketStatus
from orchestrator_dynamic.domain.ports import BusMessage, Collection
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from tests.conftest import DECISIONS, FIXTURES
from tests.integration.bus.conftest import BusFactory
from tests.integration.bus.intake_rig import (
    IntakeRig,
    as_avro,
    gather_views,
    renamed,
    suffix,
)
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.integration

RUNS = {
    "approve-5-task-dag": 5,
    "critical-security-3-task": 3,
    "low-risk-lowercase-types": 2,
    "conditional-approval": None,
    "hash-mismatch": None,
    "large-100-task-dag": 100,
}
REFUSED = {
    "invalid-cycle": "dag.cycle",
    "invalid-unknown-dependency": "dag.unknown_dependency",
    "invalid-expired-plan": "plan.expired",
    "invalid-duplicate-task-id": "dag.duplicate_task_id",
    "invalid-no-tasks": "plan.empty",
}
MALFORMED = {"malformed-plan-json": "cognitive_plan", "malformed-fields": "decision_id"}


def test_every_fixture_has_an_expected_outcome() -> None:
    named = set(RUNS) | set(REFUSED) | set(MALFORMED) | {"review-required", "rejected"}
    assert named == {p.stem for p in DECISIONS.glob("*.json")}


async def test_every_fixture_json_and_avro_gets_its_outcome(
    bus_factory: BusFactory, flow_rig: FlowRig
) -> None:
    bus = await bus_factory()
    rig = IntakeRig(bus, flow_rig)
    ids: dict[tuple[str, str], str] = {}
    sent: list[bytes] = []
    for path in sorted(DECISIONS.glob("*.json")):
        for encoding in ("json", "avro"):
            decision_id, raw = renamed(path.stem, f"{encoding}-{suffix()}")
            if encoding == "avro":
                if path.stem == "malformed-fields":
                    continue  # no Avro writer can produce a record without decision_id
                raw = as_avro(raw)
            ids[path.stem, encoding] = decision_id
            sent.append(raw)
            await bus.publish(rig.topics.decisions, raw, key=decision_id or None)
    intake = await rig.decision_intake()
    await rig.drain(intake, len(sent))

    assert intake.dead_lettered == 3
    assert await intake.lag() == 0, "every record committed, the bad ones included"
    running = [ids[k] for k in ids if k[0] in RUNS or k[0] in REFUSED]
    views = await gather_views(flow_rig, running)
    for (name, encoding), decision_id in ids.items():
        where = f"{name} as {encoding}"
        if name in RUNS:
            view = views[decision_id]
            assert view.status is WorkflowStatus.COMPLETED, where
            if RUNS[name] is not None:
                assert len(view.tickets) == RUNS[name], where
        elif name in REFUSED:
            assert views[decision_id].status is WorkflowStatus.REFUSED, where
            assert REFUSED[name] in {i.code for i in views[decision_id].issues}, where
        elif name == "review-required":
            view = await flow_rig.wait_status(decision_id, WorkflowStatus.AWAITING_APPROVAL)
            assert view.tickets == [], where
        elif name == "rejected":
            record = await flow_rig.store.get(Collection.DECISIONS, decision_id)
            assert record is not None and record["disposition"] == "skipped", where
    refused_or_waiting = {ids[k] for k in ids if k[0] in REFUSED or k[0] == "review-required"}
    published = {t.workflow_id for t in flow_rig.tickets_published()}
    assert not published & refused_or_waiting, "no ticket for a refused or waiting plan"

    letters = await rig.dead_lettered(3)
    assert_dead_letters(letters, rig.topics.decisions, sent)
    await assert_ledger(flow_rig, ids)


async def assert_ledger(flow_rig: FlowRig, ids: dict[tuple[str, str], str]) -> None:
    """Every decision received is in the decisions collection with what became of it."""
    expected = {name: "started" for name in RUNS} | {name: "refused" for name in REFUSED}
    expected |= {"review-required": "started", "rejected": "skipped"}
    for (name, encoding), decision_id in ids.items():
        if name not in expected:
            continue
        record = await flow_rig.store.get(Collection.DECISIONS, decision_id)
        assert record is not None, (name, encoding)
        assert record["disposition"] == expected[name], (name, encoding, record)
        if name in REFUSED:
            assert REFUSED[name] in record["reason"], (name, record)
    malformed_plan = ids["malformed-plan-json", "json"]
    record = await flow_rig.store.get(Collection.DECISIONS, malformed_plan)
    assert record is not None and record["disposition"] == "dead-lettered"
    assert "cognitive_plan" in record["reason"]
    # No decision_id to key it by: found by where it came from.
    unkeyed = await flow_rig.store.find(Collection.DECISIONS, {"disposition": "dead-lettered"})
    assert any(
        r["decision_id"].startswith("dlq:") and "decision_id" in r["reason"] for r in unkeyed
    )


def assert_dead_letters(letters: list[BusMessage], source: str, sent: list[bytes]) -> None:
    by_field = {m.header("dlq.field"): m for m in letters}
    assert set(by_field) == {"cognitive_plan", "decision_id"}
    for letter in letters:
        assert letter.value in sent, "the original bytes, untouched"
        assert letter.header("dlq.source.topic") == source
        assert letter.header("dlq.source.partition") == "0"
        offset = int(letter.header("dlq.source.offset") or -1)
        assert sent[offset] == letter.value, "the offset points at the record itself"
        field = letter.header("dlq.field") or ""
        assert field in (letter.header("dlq.reason") or "")
    assert sent.count(by_field["decision_id"].value) == 1


async def test_offset_is_committed_only_after_the_start_is_acknowledged(
    bus_factory: BusFactory, flow_rig: FlowRig
) -> None:
    bus = await bus_factory()
    rig = IntakeRig(bus, flow_rig)
    decision_id, raw = renamed("approve-5-task-dag", suffix())
    await bus.publish(rig.topics.decisions, raw, key=decision_id)
    gate = asyncio.Event()
    entered = asyncio.Event()

    class HeldSink:
        async def submit(self, doc: dict[str, object]) -> object:
            entered.set()
            await gate.wait()
            return await rig.operations.submit(doc)

    held = await rig.decision_intake(HeldSink())
    consuming = asyncio.create_task(held.run_once(timeout_ms=5_000))
    await asyncio.wait_for(entered.wait(), 10)
    assert await held.lag() == 1, "not committed while the start is not acknowledged"
    consuming.cancel()  # the process dies before the start was acknowledged
    with pytest.raises(asyncio.CancelledError):
        await consuming
    assert await flow_rig.store.get(Collection.DECISIONS, decision_id) is None

    again = await rig.decision_intake()  # a new consumer of the same group gets it again
    await rig.drain(again, 1)
    assert await again.lag() == 0
    view = await flow_rig.finished_view(decision_id)
    assert view.status is WorkflowStatus.COMPLETED


async def test_hash_verification_on_dead_letters_a_mismatch(
    bus_factory: BusFactory, flow_rig: FlowRig
) -> None:
    bus = await bus_factory()
    rig = IntakeRig(bus, flow_rig, verify_hash=True)
    good_id, good = renamed("approve-5-task-dag", suffix())
    doc = json.loads(good)
    doc["hash"] = decision_hash(parse_decision(doc))  # re-signed after renaming
    good = json.dumps(doc).encode()
    _, bad = renamed("hash-mismatch", suffix())
    await bus.publish(rig.topics.decisions, bad)
    await bus.publish(rig.topics.decisions, as_avro(good))
    intake = await rig.decision_intake()
    await rig.drain(intake, 2)
    [letter] = await rig.dead_lettered(1)
    assert letter.value == bad
    assert letter.header("dlq.field") == "hash"
    assert letter.header("dlq.reason_code") == "decision.hash_mismatch"
    assert (await flow_rig.finished_view(good_id)).status is WorkflowStatus.COMPLETED


async def test_results_reach_their_workflow_and_unknown_tickets_are_dead_lettered(
    bus_factory: BusFactory, flow_rig: FlowRig
) -> None:
    bus = await bus_factory()
    rig = IntakeRig(bus, flow_rig)
    flow_rig.behaviour = lambda ticket: None  # the agents never answer: results come by the bus
    decision_id, raw = renamed("low-risk-lowercase-types", suffix())
    await bus.publish(rig.topics.decisions, raw)
    decisions = await rig.decision_intake()
    await rig.drain(decisions, 1)
    results = await rig.result_intake()
    template = json.loads((FIXTURES / "results" / "completed.json").read_bytes())
    answered: set[str] = set()
    unknown = dict(template, ticket_id="no-such-ticket")
    await bus.publish(rig.topics.results, json.dumps(unknown).encode(), key="no-such-ticket")
    async with asyncio.timeout(60):
        while (await flow_rig.gateway.view(decision_id)).status is not WorkflowStatus.COMPLETED:
            for ticket in flow_rig.tickets_published():
                if ticket.status is TicketStatus.PENDING and ticket.ticket_id not in answered:
                    answered.add(ticket.ticket_id)
                    agent = ticket.metadata.get("worker_id", template["agent_id"])
                    body = dict(template, ticket_id=ticket.ticket_id, agent_id=agent)
                    await bus.publish(rig.topics.results, json.dumps(body).encode())
            await results.run_once(timeout_ms=100)
    assert len(answered) == 2
    assert results.dead_lettered == 1
    [letter] = await rig.dead_lettered(1)
    assert letter.header("dlq.field") == "ticket_id"
    assert "no-such-ticket" in (letter.header("dlq.reason") or "")
    assert letter.header("dlq.source.topic") == rig.topics.results

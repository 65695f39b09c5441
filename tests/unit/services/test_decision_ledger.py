"""The decisions ledger: dead letters keyed by decision_id when readable, else by source."""

from __future__ import annotations

from orchestrator_dynamic.domain.errors import Issue
from orchestrator_dynamic.domain.ports import BusMessage, Collection
from orchestrator_dynamic.services.decision_ledger import record_dead_letter, record_decision
from tests.fakes import MemoryStoreFake

ISSUE = [Issue("field.invalid", "Input should be a valid number", "aggregated_confidence")]


async def test_a_readable_dead_letter_is_keyed_by_its_decision_id() -> None:
    store = MemoryStoreFake()
    raw = b'{"decision_id": "dec-9", "plan_id": "p", "aggregated_confidence": "high"}'
    await record_dead_letter(store, BusMessage("plans.consensus", raw, offset=7), ISSUE, 5)
    record = await store.get(Collection.DECISIONS, "dec-9")
    assert record is not None
    assert record["disposition"] == "dead-lettered" and record["plan_id"] == "p"
    assert record["reason"] == "aggregated_confidence: Input should be a valid number"
    assert record["source"] == {"topic": "plans.consensus", "partition": 0, "offset": 7}


async def test_unreadable_bytes_are_keyed_by_their_source() -> None:
    store = MemoryStoreFake()
    for raw in (b"\x00\x00\x00\x00\x01avro", b"[1, 2]", b'{"decision_id": 12}'):
        message = BusMessage("plans.consensus", raw, partition=2, offset=len(raw))
        await record_dead_letter(store, message, ISSUE, 5)
        record = await store.get(Collection.DECISIONS, f"dlq:plans.consensus:2:{len(raw)}")
        assert record is not None and record["plan_id"] is None


async def test_a_later_disposition_replaces_the_earlier_one() -> None:
    store = MemoryStoreFake()
    fields = {"decision_id": "dec-1", "plan_id": "p", "intent_id": "i", "final_decision": "approve"}
    await record_decision(store, fields, "started", "", 1)
    await record_decision(store, fields, "refused", "dag.cycle: a -> b -> a", 2)
    record = await store.get(Collection.DECISIONS, "dec-1")
    assert record == {
        **fields,
        "disposition": "refused",
        "reason": "dag.cycle: a -> b -> a",
        "timestamp": 2,
    }

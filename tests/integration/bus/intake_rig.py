"""Decisions and results through a real bus into the intake, on a real Temporal dev server.

The Flow C side is the flow tests' rig (in-memory store, simulated agents answering through the
gateway); what is real here is the bus (local SQLite or Kafka on tansu), the codec, the intake
consumers, Operations, the gateway and Temporal.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.adapters.serialization.avro import (
    decode_message,
    encode_avro,
    to_confluent,
)
from orchestrator_dynamic.domain.ports import BusMessage, MessageBus, Subscription
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake, DecisionSink, ResultIntake
from orchestrator_dynamic.services.operations import Operations
from tests.conftest import decision_bytes
from tests.integration.bus.conftest import poll_n, unique
from tests.integration.flow.harness import FlowRig, now_ms


async def decode_decision(raw: bytes) -> dict[str, Any]:
    return await decode_message("ConsolidatedDecision", raw)


async def decode_result(raw: bytes) -> dict[str, Any]:
    return await decode_message("ExecutionResult", raw)


def renamed(name: str, suffix: str) -> tuple[str, bytes]:
    """A fixture under a fresh decision_id (the dev server outlives each test); the original
    bytes for fixtures without a decision_id."""
    raw = decision_bytes(name)
    doc = json.loads(raw)
    if "decision_id" not in doc:
        return "", raw
    doc["decision_id"] = f"{doc['decision_id']}-{suffix}"
    return doc["decision_id"], json.dumps(doc).encode()


def as_avro(raw_json: bytes) -> bytes:
    """The same decision in the Confluent wire format (schema id 1, bundled schema)."""
    return to_confluent(1, encode_avro("ConsolidatedDecision", json.loads(raw_json)))


@dataclass
class Topics:
    decisions: str
    results: str
    dlq: str
    group: str

    @classmethod
    def fresh(cls) -> Topics:
        return cls(
            unique("plans.consensus"), unique("execution.results"), unique("dlq"), unique("g")
        )


class IntakeRig:
    """One bus, one Flow C rig, and the two intake consumers between them."""

    def __init__(self, bus: MessageBus, flow: FlowRig, verify_hash: bool = False) -> None:
        self.bus = bus
        self.flow = flow
        self.topics = Topics.fresh()
        self.operations = Operations(flow.gateway, flow.store, now_ms, verify_hash)
        self.dead_letters = DeadLetters(bus, self.topics.dlq)

    async def decision_intake(self, sink: DecisionSink | None = None) -> DecisionIntake:
        sub = await self.bus.subscribe([self.topics.decisions], self.topics.group)
        return DecisionIntake(
            sub, self.dead_letters, decode_decision, sink or self.operations, retry_initial_s=0.05
        )

    async def result_intake(self) -> ResultIntake:
        sub = await self.bus.subscribe([self.topics.results], self.topics.group)
        return ResultIntake(
            sub, self.dead_letters, decode_result, self.operations.results, retry_initial_s=0.05
        )

    async def drain(self, intake: Any, total: int, timeout_s: float = 60) -> None:
        """Run the consumer until ``total`` records were handled or dead-lettered."""
        deadline = time.monotonic() + timeout_s
        while intake.handled + intake.dead_lettered < total:
            if time.monotonic() > deadline:
                raise AssertionError(f"intake saw {intake.handled + intake.dead_lettered}/{total}")
            await intake.run_once(max_records=100, timeout_ms=200)

    async def dead_lettered(self, n: int) -> list[BusMessage]:
        sub: Subscription = await self.bus.subscribe([self.topics.dlq], unique("dlq-reader"))
        try:
            return await poll_n(sub, n)
        finally:
            await sub.close()


def suffix() -> str:
    return uuid.uuid4().hex[:8]


async def gather_views(flow: FlowRig, ids: list[str], timeout_s: float = 90) -> dict[str, Any]:
    views = await asyncio.gather(*(flow.finished_view(i, timeout_s) for i in ids))
    return dict(zip(ids, views, strict=True))

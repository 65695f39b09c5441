"""Bus throughput, ours side by side with the floor measured in the same run.

1. Intake: decisions/s decoded, validated and started by DecisionIntake + Operations + the real
   FlowGateway on an embedded Temporal dev server (no worker: a start counts once Temporal
   acknowledged it), on the local bus and on KafkaBus (tansu). Decisions are keyed by their
   decision_id, as the consensus engine publishes them. Floor: the same workflow starts issued
   straight to Temporal one after the other, no bus, no decoding (and, for reference, as many
   starts issued at once as the intake's concurrency). Goal: intake >= 0.85x the floor.
2. Tickets: publish throughput of KafkaBus (acks=all, each publish awaits the broker's
   confirmation, as the publishing activity does) against a raw aiokafka producer doing the same
   send_and_wait loop; and consume throughput of a KafkaBus subscription (poll + commit per
   record) against a raw aiokafka consumer doing the same.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from bench import goals
from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.adapters.serialization.avro import decode_message
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.adapters.temporal_dev_server import TemporalDevServer
from orchestrator_dynamic.domain.decode import decision_hash, parse_decision
from orchestrator_dynamic.domain.model import ConsolidatedDecision
from orchestrator_dynamic.domain.ports import BusMessage, Collection, MessageBus, Subscription
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import WORKFLOW_NAME, FlowInput, FlowOptions
from orchestrator_dynamic.flow.worker import connect
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import CONCURRENCY, DecisionIntake
from orchestrator_dynamic.services.operations import Operations
from tests.servers.kafka import TansuBroker, free_port

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "decisions" / "approve-5-task-dag.json"
TICKET = json.dumps({"ticket_id": "t", "payload": "x" * 900}).encode()  # ~1 KiB, a ticket's size
DECISIONS = 300
TICKETS = 2_000
OPTIONS = FlowOptions()
GOAL_INTAKE = 0.85


def now_ms() -> int:
    return int(time.time() * 1000)


def decisions(run: str) -> list[tuple[str, bytes]]:
    """The fixture under fresh ids, each with its integrity hash recomputed (as upstream would),
    with its decision_id (the record's key)."""
    doc = json.loads(FIXTURE.read_bytes())
    out = []
    for i in range(DECISIONS):
        renamed = {**doc, "decision_id": f"{run}-{i}"}
        renamed["hash"] = decision_hash(parse_decision(renamed))
        out.append((renamed["decision_id"], json.dumps(renamed).encode()))
    return out


async def decode(raw: bytes) -> dict[str, Any]:
    return await decode_message("ConsolidatedDecision", raw)


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


class FirstRecordClock:
    """A subscription that notes when its first records arrived: the intake's clock starts
    there, so a consumer's one-off warm-up (finding its group coordinator and positions, about
    200 ms on Kafka) is not counted against a 300-decision run."""

    def __init__(self, inner: Subscription) -> None:
        self._inner = inner
        self.first_at: float | None = None

    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        batch = await self._inner.poll(max_records, timeout_ms)
        if batch and self.first_at is None:
            self.first_at = time.perf_counter()
        return batch

    async def commit(self, message: BusMessage) -> None:
        await self._inner.commit(message)

    async def lag(self) -> int:
        return await self._inner.lag()

    async def close(self) -> None:
        await self._inner.close()


async def intake_rate(bus: MessageBus, client: Client, run: str) -> float:
    for key, raw in decisions(run):
        await bus.publish("plans.consensus", raw, key=key)
    store = MemoryStore()
    gateway = FlowGateway(client, f"bench-{run}", store, lambda: OPTIONS, now_ms)
    subscription = FirstRecordClock(await bus.subscribe(["plans.consensus"], f"bench-{run}"))
    intake = DecisionIntake(
        subscription,
        DeadLetters(bus, "plans.consensus.dlq"),
        decode,
        Operations(gateway, store, now_ms),
    )
    while intake.handled < DECISIONS:
        await intake.run_once(max_records=100, timeout_ms=200)
    seconds = time.perf_counter() - (subscription.first_at or 0.0)
    await subscription.close()
    assert intake.dead_lettered == 0
    started = await store.find(
        Collection.DECISIONS, {"disposition": "started"}, limit=DECISIONS + 1
    )
    assert len(started) == DECISIONS, "each decision started once"
    return DECISIONS / seconds


async def start_floor(client: Client, run: str, at_once: int = 1) -> float:
    docs = [parse_decision(json.loads(raw)) for _, raw in decisions(run)]
    slots = asyncio.Semaphore(at_once)

    async def start(doc: ConsolidatedDecision) -> None:
        async with slots:
            await client.start_workflow(
                WORKFLOW_NAME,
                FlowInput(doc, OPTIONS),
                id=doc.decision_id,
                task_queue=f"bench-{run}",
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def starts() -> None:
        await asyncio.gather(*(start(doc) for doc in docs))

    return DECISIONS / await timed(starts)


async def produce_ours(bootstrap: str, topic: str) -> float:
    bus = KafkaBus(bootstrap, idempotent=False, group_membership=False)
    await bus.start()

    async def send() -> None:
        for i in range(TICKETS):
            await bus.publish(topic, TICKET, key=f"t-{i}", headers={"traceparent": "00-x"})

    try:
        return TICKETS / await timed(send)
    finally:
        await bus.stop()


async def produce_floor(bootstrap: str, topic: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()

    async def send() -> None:
        for i in range(TICKETS):
            await producer.send_and_wait(
                topic, TICKET, key=f"t-{i}".encode(), headers=[("traceparent", b"00-x")]
            )

    try:
        return TICKETS / await timed(send)
    finally:
        await producer.stop()


async def consume_ours(bootstrap: str, topic: str) -> float:
    bus = KafkaBus(bootstrap, idempotent=False, group_membership=False)
    await bus.start()
    sub = await bus.subscribe([topic], f"ours-{uuid.uuid4().hex[:6]}")

    async def read() -> None:
        seen = 0
        while seen < TICKETS:
            for message in await sub.poll(max_records=500, timeout_ms=500):
                await sub.commit(message)
                seen += 1

    try:
        return TICKETS / await timed(read)
    finally:
        await sub.close()
        await bus.stop()


async def consume_floor(bootstrap: str, topic: str) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"floor-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    consumer.assign([TopicPartition(topic, 0)])

    async def read() -> None:
        seen = 0
        while seen < TICKETS:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    await consumer.commit({tp: record.offset + 1})
                    seen += 1

    try:
        return TICKETS / await timed(read)
    finally:
        await consumer.stop()


def record_intake(name: str, ours: float, floor: float) -> None:
    ratio = ours / floor
    goals.record(name, f"{ratio:.2f}x", f">= {GOAL_INTAKE}x", ratio >= GOAL_INTAKE, ratio)


def row(measure: str, ours: float, floor: float, unit: str) -> str:
    return f"{measure:<44} {ours:>10.0f} {floor:>10.0f} {unit:<12} {floor / ours:>6.2f}x"


async def main() -> None:
    broker = TansuBroker()
    broker.start()
    with tempfile.TemporaryDirectory() as tmp:
        server = TemporalDevServer(Path(tmp) / "temporal.db", port=free_port(), ui_port=free_port())
        await server.start()
        try:
            client = await connect(server.target, "default")
            print(f"{'measure':<44} {'ours':>10} {'floor':>10} {'unit':<12} {'ratio':>7}")
            floor = await start_floor(client, f"floor-{uuid.uuid4().hex[:6]}")
            at_once = await start_floor(client, f"floor-{uuid.uuid4().hex[:6]}", CONCURRENCY)
            print(row(f"raw starts, {CONCURRENCY} at once (reference)", at_once, floor, "starts/s"))
            local = LocalBus(Path(tmp) / "bus.db")
            await local.start()
            rate = await intake_rate(local, client, f"local-{uuid.uuid4().hex[:6]}")
            await local.stop()
            print(row("intake, local bus (started by Temporal)", rate, floor, "decisions/s"))
            record_intake(goals.INTAKE_LOCAL, rate, floor)
            kafka = KafkaBus(broker.bootstrap, idempotent=False, group_membership=False)
            await kafka.start()
            rate = await intake_rate(kafka, client, f"kafka-{uuid.uuid4().hex[:6]}")
            await kafka.stop()
            print(row("intake, Kafka bus (started by Temporal)", rate, floor, "decisions/s"))
            record_intake(goals.INTAKE_KAFKA, rate, floor)
            topic = f"execution.tickets.{uuid.uuid4().hex[:6]}"
            ours = await produce_ours(broker.bootstrap, topic)
            floor = await produce_floor(broker.bootstrap, topic)
            print(row("tickets produced, acks=all, confirmed each", ours, floor, "tickets/s"))
            ours = await consume_ours(broker.bootstrap, topic)
            floor = await consume_floor(broker.bootstrap, topic)
            print(row("tickets consumed, commit each", ours, floor, "tickets/s"))
            print("ratio = floor / ours (throughput): how many times faster the floor is")
            print(
                f"goal: intake >= {GOAL_INTAKE}x the floor's decisions/s (ratio <= {1 / GOAL_INTAKE:.2f}x)"
            )
        finally:
            await server.stop()
            broker.stop()

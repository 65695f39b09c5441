"""The intake handles a poll's records concurrently by key: each key's records in offset order,
records without a key one after the other, at most ``concurrency`` at once, and the batch
committed once (per partition, by its last record) after every record was handled."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from orchestrator_dynamic.domain.errors import EngineUnavailable, Issue
from orchestrator_dynamic.domain.ports import BusMessage
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake
from tests.unit.services.test_intake_retries import FlakyPublisher, decode


class Subscription:
    """One batch of records, then nothing; remembers its commits."""

    def __init__(self, records: list[BusMessage]) -> None:
        self.pending = records
        self.committed: list[tuple[int, int]] = []

    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        batch, self.pending = self.pending[:max_records], self.pending[max_records:]
        return batch

    async def commit(self, message: BusMessage) -> None:
        self.committed.append((message.partition, message.offset))

    async def lag(self) -> int:
        return 0

    async def close(self) -> None:
        return None


class SlowSink:
    """Takes a random short while per record; counts how many it holds at once."""

    def __init__(self, subscription: Subscription, outages: dict[str, int] | None = None) -> None:
        self.subscription = subscription
        self.order: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.outages = dict(outages or {})
        self.committed_before: dict[str, int] = {}

    async def submit(self, doc: dict[str, Any]) -> None:
        value = doc["value"]
        self.committed_before[value] = len(self.subscription.committed)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(random.uniform(0, 0.003))
            if self.outages.get(value):
                self.outages[value] -= 1
                raise EngineUnavailable("temporal", "not answering")
        finally:
            self.in_flight -= 1
        self.order.append(value)

    async def dead_lettered(self, message: BusMessage, issues: list[Issue]) -> None:
        return None


def records(keys: list[str | None], partitions: int = 1) -> list[BusMessage]:
    out = []
    for i, key in enumerate(keys):
        value = f"{key or '-'}:{i}".encode()
        raw_key = key.encode() if key is not None else None
        out.append(BusMessage("in", value, raw_key, partition=i % partitions, offset=i))
    return out


def consumer(sub: Subscription, sink: SlowSink, concurrency: int = 16) -> DecisionIntake:
    return DecisionIntake(
        sub,
        DeadLetters(FlakyPublisher(), "dlq"),
        decode,
        sink,
        retry_initial_s=0.001,
        retry_max_s=0.002,
        concurrency=concurrency,
    )


def of_key(order: list[str], key: str) -> list[int]:
    return [int(v.split(":")[1]) for v in order if v.startswith(f"{key}:")]


async def test_keys_run_concurrently_each_in_order_and_the_batch_commits_once() -> None:
    keys = [f"k{i % 4}" for i in range(40)]
    sub = Subscription(records(keys))
    sink = SlowSink(sub)
    assert await consumer(sub, sink).run_once() == 40
    assert sorted(sink.order) == sorted(m.value.decode() for m in records(keys))
    for key in ("k0", "k1", "k2", "k3"):
        assert of_key(sink.order, key) == sorted(of_key(sink.order, key))
    assert 1 < sink.most_in_flight <= 4  # one record per key at a time
    assert sub.committed == [(0, 39)]
    assert set(sink.committed_before.values()) == {0}, "nothing committed before the batch ran"


async def test_records_without_a_key_run_one_after_the_other() -> None:
    keys: list[str | None] = [None, "a", None, "b", None, "a"]
    sub = Subscription(records(keys))
    sink = SlowSink(sub)
    await consumer(sub, sink).run_once()
    assert of_key(sink.order, "-") == [0, 2, 4]
    assert of_key(sink.order, "a") == [1, 5]


async def test_no_more_than_the_concurrency_at_once() -> None:
    sub = Subscription(records([f"k{i}" for i in range(30)]))
    sink = SlowSink(sub)
    await consumer(sub, sink, concurrency=3).run_once()
    assert len(sink.order) == 30
    assert sink.most_in_flight == 3


async def test_each_partition_is_committed_by_its_last_record() -> None:
    sub = Subscription(records([f"k{i}" for i in range(9)], partitions=3))
    await consumer(sub, SlowSink(sub)).run_once()
    assert sorted(sub.committed) == [(0, 6), (1, 7), (2, 8)]


async def test_an_outage_on_one_key_holds_the_commit_not_the_other_keys() -> None:
    keys = ["slow", "fast", "fast", "slow", "fast"]
    sub = Subscription(records(keys))
    sink = SlowSink(sub, outages={"slow:0": 3})
    await consumer(sub, sink).run_once()
    assert of_key(sink.order, "slow") == [0, 3]
    assert of_key(sink.order, "fast") == [1, 2, 4]
    assert sink.order.index("fast:4") < sink.order.index("slow:0"), "fast went on meanwhile"
    assert sub.committed == [(0, 4)]

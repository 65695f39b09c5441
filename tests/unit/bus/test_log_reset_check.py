"""The idle consumer's log-reset check (KafkaSubscription): a position beyond the end of the log
is acted on only when a second look, a check later, still finds it there."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from aiokafka.structs import TopicPartition

from orchestrator_dynamic.adapters.bus import kafka
from orchestrator_dynamic.adapters.bus.kafka import KafkaSubscription

TP = TopicPartition("execution.tickets", 0)


@dataclass
class ConsumerStandIn:
    """What the check asks of aiokafka's consumer: idle (no records), a position, the ends."""

    position_at: int
    ends: list[int]
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[object, list[object]]:
        return {}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {TP: self.ends.pop(0)}

    async def position(self, tp: TopicPartition) -> int:
        return self.position_at

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {TP: 0}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.position_at = offset


@pytest.fixture(autouse=True)
def every_poll_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "RESET_CHECK_S", 0.0)


async def polls(consumer: ConsumerStandIn, count: int) -> None:
    subscription = KafkaSubscription(consumer, [TP.topic], "group")  # type: ignore[arg-type]
    for _ in range(count):
        assert await subscription.poll() == []


async def test_one_end_offset_behind_the_position_is_not_a_lost_log() -> None:
    consumer = ConsumerStandIn(position_at=11, ends=[9, 12, 12])
    await polls(consumer, 3)
    assert consumer.seeks == []


async def test_a_log_still_behind_at_the_second_look_is_read_from_its_start() -> None:
    consumer = ConsumerStandIn(position_at=120, ends=[80, 80, 80])
    await polls(consumer, 2)
    assert consumer.seeks == [(TP, 0)]
    await polls(consumer, 1)  # read from its start now: nothing more to do
    assert consumer.seeks == [(TP, 0)]

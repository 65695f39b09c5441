"""The intake loop under dependency outages: nothing skipped, nothing committed too early."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    EngineUnavailable,
    Issue,
    MalformedMessage,
)
from orchestrator_dynamic.domain.ports import BusMessage
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake


class ScriptedSubscription:
    """Hands out its records once; ``commit`` fails while ``commit_failures`` lasts."""

    def __init__(self, values: list[bytes], commit_failures: int = 0) -> None:
        self.pending = [BusMessage("in", v, offset=i) for i, v in enumerate(values)]
        self.committed: list[int] = []
        self.changed = asyncio.Event()
        self.commit_failures = commit_failures

    async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
        batch, self.pending = self.pending[:max_records], self.pending[max_records:]
        if not batch:
            await asyncio.sleep(0.001)  # a real poll waits for records
        return batch

    async def commit(self, message: BusMessage) -> None:
        if self.commit_failures:
            self.commit_failures -= 1
            raise BusUnavailable("bus", "coordinator away")
        self.committed.append(message.offset)
        self.changed.set()

    async def lag(self) -> int:
        return 0

    async def close(self) -> None:
        return None


class FlakyPublisher:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.records: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise BusUnavailable("bus", "broker away")
        self.records.append((topic, value, dict(headers or {})))


class Sink:
    """Accepts documents; fails with an engine outage ``failures`` times first."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.accepted: list[dict[str, Any]] = []
        self.committed_seen: list[list[int]] = []
        self.subscription: ScriptedSubscription | None = None
        self.dead: list[tuple[bytes, str]] = []

    async def submit(self, doc: dict[str, Any]) -> None:
        if self.subscription is not None:
            self.committed_seen.append(list(self.subscription.committed))
        if self.failures:
            self.failures -= 1
            raise EngineUnavailable("temporal", "not answering")
        self.accepted.append(doc)

    async def dead_lettered(self, message: BusMessage, issues: list[Issue]) -> None:
        self.dead.append((message.value, issues[0].code))


async def decode(raw: bytes) -> dict[str, Any]:
    if raw == b"bad":
        raise MalformedMessage([Issue("json.invalid", "not valid JSON", "decision_id")])
    if raw == b"boom":  # a decoder failing in a way nobody foresaw
        raise RecursionError("maximum recursion depth exceeded while decoding")
    return {"value": raw.decode()}


def intake(sub: ScriptedSubscription, dlq: FlakyPublisher, sink: Sink) -> DecisionIntake:
    return DecisionIntake(
        sub, DeadLetters(dlq, "dlq"), decode, sink, retry_initial_s=0.001, retry_max_s=0.002
    )


async def test_a_start_outage_is_retried_before_the_commit() -> None:
    sub = ScriptedSubscription([b"a", b"b"])
    sink = Sink(failures=3)
    sink.subscription = sub
    consumer = intake(sub, FlakyPublisher(), sink)
    assert await consumer.run_once() == 2
    assert [d["value"] for d in sink.accepted] == ["a", "b"]
    assert sink.committed_seen == [[]] * 5, "nothing committed while a start failed"
    assert sub.committed == [1], "the batch committed once, by its last record"


async def test_a_failed_commit_is_retried() -> None:
    sub = ScriptedSubscription([b"a", b"b", b"c"], commit_failures=2)
    sink = Sink()
    consumer = intake(sub, FlakyPublisher(), sink)
    assert await consumer.run_once() == 3
    assert [d["value"] for d in sink.accepted] == ["a", "b", "c"]
    assert sub.committed == [2]


async def test_a_dead_letter_is_retried_until_the_bus_takes_it() -> None:
    sub = ScriptedSubscription([b"bad", b"ok"])
    dlq = FlakyPublisher(failures=2)
    sink = Sink()
    consumer = intake(sub, dlq, sink)
    await consumer.run_once()
    [(topic, value, headers)] = dlq.records
    assert (topic, value, headers["dlq.field"]) == ("dlq", b"bad", "decision_id")
    assert consumer.dead_lettered == 1 and consumer.handled == 1
    assert sink.dead == [(b"bad", "json.invalid")]  # recorded once, after the DLQ took it
    assert sub.committed == [1]


async def test_run_survives_a_poll_outage() -> None:
    class FailingOnce(ScriptedSubscription):
        polls = 0

        async def poll(self, max_records: int = 100, timeout_ms: int = 1000) -> list[BusMessage]:
            self.polls += 1
            if self.polls == 1:
                raise BusUnavailable("bus", "broker away")
            return await super().poll(max_records, timeout_ms)

    sub = FailingOnce([b"a"])
    sink = Sink()
    task = asyncio.create_task(intake(sub, FlakyPublisher(), sink).run())
    await asyncio.wait_for(sub.changed.wait(), 5)
    task.cancel()
    assert [d["value"] for d in sink.accepted] == ["a"] and sub.committed == [0]


async def test_a_decoder_raising_anything_dead_letters_the_record_and_the_intake_goes_on() -> None:
    sub = ScriptedSubscription([b"a", b"boom", b"b"])
    dlq = FlakyPublisher()
    sink = Sink()
    consumer = intake(sub, dlq, sink)
    assert await consumer.run_once() == 3
    [(_, value, headers)] = dlq.records
    assert value == b"boom", "the original bytes"
    assert headers["dlq.reason_code"] == "decode.failed"
    assert "RecursionError" in headers["dlq.reason"]
    assert sink.dead == [(b"boom", "decode.failed")]
    assert [d["value"] for d in sink.accepted] == ["a", "b"]
    assert sub.committed == [2], "the poison record is committed too (the batch's last)"


async def test_a_handler_raising_anything_unforeseen_is_dead_lettered_not_raised() -> None:
    class Buggy(Sink):
        async def submit(self, doc: dict[str, Any]) -> None:
            if doc["value"] == "bug":
                raise KeyError("plan_id")
            await super().submit(doc)

    sub = ScriptedSubscription([b"bug", b"ok"])
    dlq = FlakyPublisher()
    sink = Buggy()
    consumer = intake(sub, dlq, sink)
    assert await consumer.run_once() == 2
    [(_, value, headers)] = dlq.records
    assert (value, headers["dlq.reason_code"]) == (b"bug", "intake.unexpected_error")
    assert [d["value"] for d in sink.accepted] == ["ok"] and sub.committed == [1]


async def test_an_untranslated_network_error_is_an_outage_retried_not_a_dead_letter() -> None:
    class Flaky(Sink):
        async def submit(self, doc: dict[str, Any]) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionResetError("peer went away")
            await super().submit(doc)

    sub = ScriptedSubscription([b"a"])
    dlq = FlakyPublisher()
    sink = Flaky(failures=2)
    consumer = intake(sub, dlq, sink)
    assert await consumer.run_once() == 1
    assert dlq.records == [] and [d["value"] for d in sink.accepted] == ["a"]
    assert sub.committed == [0]

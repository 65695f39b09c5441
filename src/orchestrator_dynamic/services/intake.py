"""Consumers of plans.consensus and execution.results.

At-least-once and never stuck: an offset is committed only after the record was handled (the
workflow start acknowledged, the result signalled) or dead-lettered. Transient failures of a
dependency are retried without committing, so nothing is lost; redelivery is harmless because
workflow id = decision_id and results are de-duplicated by the workflow.

Throughput: the records of one poll are handled concurrently by key (up to ``concurrency`` at
once), each key's records one after the other in offset order, and records without a key one
after the other as well (nothing says which of them may be reordered). The batch is committed
once every record in it was handled or dead-lettered: one commit per partition, of its last
record. A crash in the middle of a batch redelivers the whole batch, which is harmless as above.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

import structlog

from orchestrator_dynamic.domain.decode import parse_result
from orchestrator_dynamic.domain.errors import (
    BusUnavailable,
    DependencyDown,
    Issue,
    MalformedMessage,
)
from orchestrator_dynamic.domain.model import ExecutionResult
from orchestrator_dynamic.domain.ports import BusMessage, Subscription
from orchestrator_dynamic.observability import metrics, tracing
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.results import Disposition, Outcome

log = structlog.get_logger(__name__)

LAG_EVERY_S = 15.0
# Records handled at once: enough to overlap the workflow starts' round trips (each a few ms),
# few enough that a poll's worth of decisions does not flood the engine.
CONCURRENCY = 16

Decoder = Callable[[bytes], Awaitable[dict[str, Any]]]


class DecisionSink(Protocol):
    async def submit(self, doc: dict[str, Any]) -> Any: ...

    async def dead_lettered(self, message: BusMessage, issues: list[Issue]) -> None:
        """Record that this decision could not be accepted (it is on the DLQ now)."""
        ...


class ResultSink(Protocol):
    async def take(
        self, result: ExecutionResult, channel: str, worker_id: str | None = None
    ) -> Outcome: ...


class Consumer(ABC):
    """Poll, handle, commit; retry a record whose handling hit a dependency outage."""

    def __init__(
        self,
        subscription: Subscription,
        dead_letters: DeadLetters,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._subscription = subscription
        self._dead_letters = dead_letters
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.handled = 0
        self.dead_lettered = 0

    async def run(self) -> None:
        """Forever; a bus outage while polling only pauses the loop (nothing was fetched)."""
        delay = self._retry_initial_s
        lag_due = 0.0
        while True:
            try:
                await self.run_once()
                delay = self._retry_initial_s
                if time.monotonic() >= lag_due:  # the adapters publish the lag gauge
                    await self.lag()
                    lag_due = time.monotonic() + LAG_EVERY_S
            except DependencyDown as exc:
                log.warning("intake_poll_failed", reason=str(exc))
                await asyncio.sleep(delay)
                delay = min(self._retry_max_s, delay * 2)

    async def run_once(self, max_records: int = 100, timeout_ms: int = 500) -> int:
        batch = await self._subscription.poll(max_records, timeout_ms)
        for message in batch:
            metrics.MESSAGES_CONSUMED.labels(message.topic).inc()
        lanes = list(by_key(batch).values())
        if len(lanes) == 1:
            await self._lane(lanes[0])
        elif lanes:
            await self._lanes(lanes)
        # Every record of the batch is handled or dead-lettered. A failed commit is retried
        # here rather than abandoned (a lost commit only means a harmless redelivery later).
        for message in last_per_partition(batch):
            await self._retrying(message, self._subscription.commit)
        return len(batch)

    async def _lanes(self, lanes: list[list[BusMessage]]) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for lane in lanes:
                    group.create_task(self._lane(lane))
        except BaseExceptionGroup as failed:
            # What one record raised past its own handling (none is expected: see
            # _handle_or_dead_letter) stops the batch as it did one record at a time.
            raise failed.exceptions[0] from None

    async def _lane(self, lane: list[BusMessage]) -> None:
        """One key's records, in order; each takes one of the concurrency slots."""
        for message in lane:
            async with self._slots:
                await self._retrying(message, self._handle_or_dead_letter)

    async def _handle_or_dead_letter(self, message: BusMessage) -> None:
        try:
            await self.handle(message)
            self.handled += 1
        except MalformedMessage as exc:
            await self._dead_letter(message, exc.issues)
        except DependencyDown:
            raise  # an outage: retried in place, never dead-lettered
        except OSError as exc:  # an untranslated network or timeout error: an outage too
            raise DependencyDown("intake", f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            # One poison record must never stop the intake (an uncommitted record that raises
            # would be redelivered forever): it goes to the DLQ with the reason, and we move on.
            metrics.CONSUMER_ERRORS.labels(message.topic, type(exc).__name__).inc()
            log.exception("intake_unexpected_error", topic=message.topic, offset=message.offset)
            reason = f"could not be handled: {type(exc).__name__}: {exc}"
            await self._dead_letter(message, [Issue("intake.unexpected_error", reason)])

    async def _dead_letter(self, message: BusMessage, issues: list[Issue]) -> None:
        await self._dead_letters.send(message, issues)
        await self.after_dead_letter(message, issues)
        self.dead_lettered += 1

    async def after_dead_letter(self, message: BusMessage, issues: list[Issue]) -> None:
        """Bookkeeping once a record is safely on the DLQ (none by default)."""
        return None

    async def _retrying(
        self, message: BusMessage, step: Callable[[BusMessage], Awaitable[None]]
    ) -> None:
        """Run ``step`` until it succeeds; a dependency outage never skips a record."""
        delay = self._retry_initial_s
        while True:
            try:
                await step(message)
                return
            except DependencyDown as exc:
                metrics.CONSUMER_ERRORS.labels(message.topic, type(exc).__name__).inc()
                log.warning(
                    "intake_retry", topic=message.topic, offset=message.offset, reason=str(exc)
                )
                await asyncio.sleep(delay)
                delay = min(self._retry_max_s, delay * 2)

    @abstractmethod
    async def handle(self, message: BusMessage) -> None:
        """Do what the record asks; raise MalformedMessage to dead-letter it."""

    async def lag(self) -> int:
        return await self._subscription.lag()


class DecisionIntake(Consumer):
    def __init__(
        self,
        subscription: Subscription,
        dead_letters: DeadLetters,
        decode: Decoder,
        sink: DecisionSink,
        **kwargs: Any,
    ) -> None:
        super().__init__(subscription, dead_letters, **kwargs)
        self._decode = decode
        self._sink = sink

    async def after_dead_letter(self, message: BusMessage, issues: list[Issue]) -> None:
        await self._sink.dead_lettered(message, issues)

    async def handle(self, message: BusMessage) -> None:
        doc = await decoded(self._decode, message)
        parent = tracing.parent_context(
            dict(_text_headers(message)), doc.get("trace_id"), doc.get("span_id")
        )
        attributes = tracing.decision_attributes({**doc, "workflow_id": doc.get("decision_id")})
        ids = structlog.contextvars.bound_contextvars(decision_id=doc.get("decision_id"))
        with _consuming(message, parent, attributes), ids:
            await self._sink.submit(doc)


class ResultIntake(Consumer):
    def __init__(
        self,
        subscription: Subscription,
        dead_letters: DeadLetters,
        decode: Decoder,
        sink: ResultSink,
        **kwargs: Any,
    ) -> None:
        super().__init__(subscription, dead_letters, **kwargs)
        self._decode = decode
        self._sink = sink

    async def handle(self, message: BusMessage) -> None:
        result = parse_result(await decoded(self._decode, message))
        parent = tracing.parent_context(dict(_text_headers(message)))
        attributes = tracing.decision_attributes(
            {"ticket_id": result.ticket_id, "worker_id": result.agent_id}
        )
        with _consuming(message, parent, attributes):
            outcome = await self._sink.take(result, "bus")
        # Duplicates, late and finished-ticket results are only counted (see services/results);
        # a result nobody owns is kept on the DLQ with the reason.
        if outcome.disposition is Disposition.UNKNOWN_TICKET:
            issue = Issue("result.unknown_ticket", outcome.detail, "ticket_id")
            raise MalformedMessage([issue])


def by_key(batch: list[BusMessage]) -> dict[bytes | None, list[BusMessage]]:
    """The batch in lanes by record key, each lane in the batch's (offset) order; records
    without a key share one lane."""
    lanes: dict[bytes | None, list[BusMessage]] = {}
    for message in batch:
        lanes.setdefault(message.key, []).append(message)
    return lanes


def last_per_partition(batch: list[BusMessage]) -> list[BusMessage]:
    """The record with the highest offset of each (topic, partition): committing it commits
    everything before it on its partition."""
    last: dict[tuple[str, int], BusMessage] = {}
    for message in batch:
        where = (message.topic, message.partition)
        if where not in last or message.offset > last[where].offset:
            last[where] = message
    return list(last.values())


async def decoded(decode: Decoder, message: BusMessage) -> dict[str, Any]:
    """The record's document; a decoder failing in any way makes the record malformed."""
    try:
        return await decode(message.value)
    except (MalformedMessage, DependencyDown):
        raise
    except OSError as exc:  # the decoder could not reach something (a schema registry)
        raise BusUnavailable("decoder", f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        reason = f"cannot be decoded: {type(exc).__name__}: {exc}"
        raise MalformedMessage([Issue("decode.failed", reason)]) from exc


def _text_headers(message: BusMessage) -> list[tuple[str, str]]:
    return [(k, v.decode("utf-8", "replace")) for k, v in message.headers]


def _consuming(
    message: BusMessage, parent: Any, attributes: dict[str, str]
) -> AbstractContextManager[Any]:
    return tracing.consume_span(
        message.topic, message.partition, message.offset, parent, attributes
    )

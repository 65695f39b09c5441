"""Dead letters: anything that cannot be accepted is kept with its original bytes and the reason."""

from __future__ import annotations

import time

import structlog

from orchestrator_dynamic.domain.errors import Issue
from orchestrator_dynamic.domain.ports import BusMessage, Publisher
from orchestrator_dynamic.observability import metrics

log = structlog.get_logger(__name__)


class DeadLetters:
    def __init__(self, publisher: Publisher, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    async def send(self, message: BusMessage, issues: list[Issue]) -> None:
        """Publish the untouched record to the DLQ; returns once the bus confirmed."""
        first = issues[0] if issues else Issue("unknown", "rejected")
        reason = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues)
        headers = {
            "dlq.reason": reason[:2_000],
            "dlq.reason_code": first.code,
            "dlq.field": first.path,
            "dlq.source.topic": message.topic,
            "dlq.source.partition": str(message.partition),
            "dlq.source.offset": str(message.offset),
            "dlq.failed_at": str(int(time.time() * 1000)),
        }
        key = message.key.decode("utf-8", "replace") if message.key else None
        await self._publisher.publish(self._topic, message.value, key=key, headers=headers)
        metrics.DEAD_LETTERS.labels(message.topic, first.code).inc()
        log.warning(
            "dead_lettered",
            topic=message.topic,
            offset=message.offset,
            reason_code=first.code,
            reason=reason[:300],
        )

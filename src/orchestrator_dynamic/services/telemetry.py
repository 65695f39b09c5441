"""C6: telemetry frames to the bus; frames that cannot be published wait in the store."""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog

from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.model import TelemetryEvent
from orchestrator_dynamic.domain.ports import Collection, Publisher, Store
from orchestrator_dynamic.observability import metrics, tracing

log = structlog.get_logger(__name__)


def frame_id(event: TelemetryEvent) -> str:
    """Stable id of a frame, so a replayed buffer write or re-send is recognisable."""
    parts = (event.workflow_id, event.event_type, event.step, event.ticket_id, event.timestamp)
    return ":".join(str(p or "") for p in parts)


class TelemetryEmitter:
    def __init__(self, publisher: Publisher, store: Store, topic: str) -> None:
        self._publisher = publisher
        self._store = store
        self._topic = topic

    async def emit(self, events: Sequence[TelemetryEvent], now_ms: int) -> int:
        """Publish every event; returns how many were buffered instead (never raises on bus loss)."""
        buffered = 0
        for event in events:
            try:
                await self._send(event)
            except OrchestratorError as exc:
                await self._buffer(event, now_ms, str(exc))
                buffered += 1
        return buffered

    async def _send(self, event: TelemetryEvent) -> None:
        value = event.model_dump_json().encode()
        await self._publisher.publish(self._topic, value, key=event.workflow_id)

    async def _buffer(self, event: TelemetryEvent, now_ms: int, reason: str) -> None:
        record = {
            "workflow_id": event.workflow_id,
            "frame": event.model_dump(mode="json"),
            "buffered_at": now_ms,
            "timestamp": now_ms,
            "retry_count": 0,
        }
        await self._store.put(Collection.TELEMETRY_BUFFER, frame_id(event), record)
        metrics.TELEMETRY_BUFFERED.inc()
        log.warning("telemetry_buffered", workflow_id=event.workflow_id, reason=reason)

    async def flush_buffer(self, limit: int = 500) -> int:
        """Re-send buffered frames oldest first; returns how many went out."""
        records = await self._store.find(Collection.TELEMETRY_BUFFER, limit=limit)
        sent = []
        for record in sorted(records, key=lambda r: r.get("buffered_at", 0)):
            event = TelemetryEvent.model_validate(record["frame"])
            try:
                await self._send(event)
            except OrchestratorError:
                break  # the bus is still down; keep the rest for the next round
            sent.append(frame_id(event))
        if sent:
            await self._store.delete(Collection.TELEMETRY_BUFFER, sent)
        return len(sent)


def trace_headers(trace_id: str | None, span_id: str | None) -> dict[str, str]:
    """W3C trace context for a record: the current span's when tracing is on, else the
    decision's own ids when they are valid, so consumers can always join the decision's trace."""
    current = tracing.current_headers()
    if current:
        return current
    if not trace_id or not span_id or len(trace_id) != 32 or len(span_id) != 16:
        return {}
    return {"traceparent": f"00-{trace_id}-{span_id}-01"}


def compact_json(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=str).encode()

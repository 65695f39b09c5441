"""The `decisions` collection: every decision received and what became of it.

Dispositions: ``started`` (a workflow runs it), ``existing`` (a redelivery of a running or finished
one), ``skipped`` (final_decision reject), ``refused`` (C1 found it invalid: the workflow ended
REFUSED; or the workflow engine would not take it, too large, and no workflow exists) and
``dead-lettered`` (it could not be read; the original bytes are on the DLQ). An operator's cancel
request is kept beside the disposition (``cancel_requested``: by, reason, at).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator_dynamic.domain.errors import Issue
from orchestrator_dynamic.domain.ports import BusMessage, Collection, Store

DECISION_FIELDS = ("decision_id", "plan_id", "intent_id", "final_decision")


async def record_decision(
    store: Store, fields: Mapping[str, Any], disposition: str, reason: str, now_ms: int
) -> None:
    """Upsert the decision's record (keyed by decision_id) with its latest disposition."""
    record: dict[str, Any] = {k: fields.get(k) for k in DECISION_FIELDS}
    record.update(disposition=disposition, reason=reason, timestamp=now_ms)
    await store.put(Collection.DECISIONS, str(fields["decision_id"]), record)


async def record_cancel_request(
    store: Store, decision_id: str, by: str, reason: str, now_ms: int
) -> None:
    """Who asked to cancel the decision's workflow, and why; the disposition stays as it is."""
    record = await store.get(Collection.DECISIONS, decision_id) or {"decision_id": decision_id}
    record["cancel_requested"] = {"by": by, "reason": reason, "at": now_ms}
    await store.put(Collection.DECISIONS, decision_id, record)


async def record_dead_letter(
    store: Store, message: BusMessage, issues: list[Issue], now_ms: int
) -> None:
    """A decision that could not be accepted: keyed by its decision_id when one can be read,
    else by where it came from, so an operator finds it either way."""
    fields = _readable_fields(message.value)
    key = fields.get("decision_id")
    if not isinstance(key, str) or not key:
        key = f"dlq:{message.topic}:{message.partition}:{message.offset}"
    record: dict[str, Any] = {k: _text(fields.get(k)) for k in DECISION_FIELDS}
    record.update(
        decision_id=key,
        disposition="dead-lettered",
        reason="; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in issues),
        source={"topic": message.topic, "partition": message.partition, "offset": message.offset},
        timestamp=now_ms,
    )
    await store.put(Collection.DECISIONS, key, record)


def _readable_fields(raw: bytes) -> dict[str, Any]:
    """Whatever top-level fields a JSON body still offers (Avro or garbage offers none)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

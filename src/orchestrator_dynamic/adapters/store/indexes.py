"""Which fields each collection is queried by (every adapter indexes these)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator_dynamic.domain.ports import Collection

INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    Collection.DECISIONS: (("disposition", "timestamp"), ("plan_id",)),
    Collection.VALIDATION_AUDIT: (("plan_id",), ("workflow_id",), ("plan_id", "timestamp")),
    Collection.TICKETS: (("workflow_id",), ("status", "completed_at"), ("task_type",)),
    Collection.WORKFLOW_RESULTS: (("status",), ("status", "consolidated_at")),
    Collection.INCIDENTS: (("workflow_id",), ("type",), ("severity", "timestamp")),
    Collection.TELEMETRY_BUFFER: (
        ("workflow_id",),
        ("buffered_at",),
        ("retry_count", "buffered_at"),
    ),
    Collection.POLICY_DECISIONS: (("ticket_id",), ("workflow_id",)),
    Collection.AUDIT: (("target",), ("action", "timestamp")),
    Collection.FLOW_STASH: (("owner",),),
}


def check_collection(name: str) -> str:
    if name not in INDEXES:
        raise ValueError(f"unknown collection {name!r}")
    return name


def check_field(name: str) -> tuple[str, ...]:
    """A filter name as its path parts; refuses anything but dotted identifiers (no injection)."""
    parts = tuple(name.split("."))
    if not all(p and p.replace("_", "a").isalnum() and p.isascii() for p in parts):
        raise ValueError(f"bad filter field {name!r}: use letters, digits, '_' and '.' only")
    return parts


def check_window(limit: int, offset: int) -> None:
    """Paging values every adapter refuses the same way."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")


def record_timestamp(record: Mapping[str, Any]) -> int | None:
    """The record's ``timestamp`` (epoch ms) or None; anything else is refused by name."""
    stamp = record.get("timestamp")
    if stamp is None or (isinstance(stamp, int) and not isinstance(stamp, bool)):
        return stamp
    raise ValueError(f"timestamp must be epoch milliseconds (an integer), got {stamp!r}")


def check_filters(filters: Mapping[str, Any] | None) -> list[tuple[tuple[str, ...], Any]]:
    """Filters as (path parts, scalar value); a list or object value is refused by name."""
    checked = []
    for name, value in (filters or {}).items():
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise ValueError(f"filter {name!r} must be a string, number, boolean or null")
        checked.append((check_field(name), value))
    return checked

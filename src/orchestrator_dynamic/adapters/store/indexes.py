"""Which fields each collection is queried by (every adapter indexes these)."""

from __future__ import annotations

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
}


def check_collection(name: str) -> str:
    if name not in INDEXES:
        raise ValueError(f"unknown collection {name!r}")
    return name

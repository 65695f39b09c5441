"""The operator audit trail: every approve, reject and cancel, who asked, from where, and how it went.

One record per action in the store's ``operator_audit`` collection, written whether the action
was accepted or refused (a refused approval is as telling as an accepted one). The token is named
by a prefix of its SHA-256 digest, never by the token itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from orchestrator_dynamic.domain.ports import Collection, Store

ACTIONS = ("approve", "reject", "cancel")


@dataclass(frozen=True)
class Actor:
    """Who asked for an operator action: the token's scope and id, the client address, the channel."""

    scope: str = "admin"
    token_id: str = "local"
    source: str = "local"
    channel: str = "api"  # api | console | cli
    by: str = ""  # the name the operator gave, as told (not authenticated)


LOCAL = Actor(channel="cli")


def audit_record(
    action: str,
    target: str,
    actor: Actor,
    reason: str,
    outcome: str,
    now_ms: int,
) -> dict[str, Any]:
    return {
        "entry_id": uuid.uuid4().hex,
        "action": action,
        "target": target,
        "scope": actor.scope,
        "token_id": actor.token_id,
        "source": actor.source,
        "channel": actor.channel,
        "by": actor.by,
        "reason": reason,
        "outcome": outcome,
        "timestamp": now_ms,
    }


async def record_action(store: Store, record: dict[str, Any]) -> None:
    await store.put(Collection.AUDIT, record["entry_id"], record)


async def audit_entries(
    store: Store,
    *,
    action: str | None = None,
    target: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Audit records newest first, by action and/or target (a workflow id)."""
    filters = {k: v for k, v in (("action", action), ("target", target)) if v}
    return await store.find(
        Collection.AUDIT, filters, since_ms=since_ms, until_ms=until_ms, limit=limit, offset=offset
    )

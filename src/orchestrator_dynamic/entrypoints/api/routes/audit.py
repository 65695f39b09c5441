"""The operator audit trail: who approved, rejected or cancelled what, from where, and how it went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from orchestrator_dynamic.entrypoints.api.deps import AdminScope, OpsDep, PageDep

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[AdminScope])


@router.get("")
async def audit_trail(
    ops: OpsDep,
    page: PageDep,
    action: Annotated[str | None, Query(pattern="^(approve|reject|cancel)$")] = None,
    target: Annotated[str | None, Query(description="A workflow id.", max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="ISO-8601; newer entries only")] = None,
) -> list[dict[str, Any]]:
    """Operator actions newest first (admin tokens only: it names client addresses). Each entry:
    action, target, outcome (`accepted` or `refused: ...`), scope and token id (a prefix of the
    token's SHA-256, never the token), source address, channel (api, console, cli), by, reason,
    timestamp (epoch ms)."""
    since_ms = int(since.timestamp() * 1000) if since else None
    return await ops.audit(action, target, since_ms, page.limit, page.offset)

"""FastAPI dependencies: the services from the app's runtime, and scope checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status

from orchestrator_dynamic.entrypoints.api.ratelimit import (
    decision_limit,
    operator_limit,
    worker_limit,
)
from orchestrator_dynamic.entrypoints.api.security import Principal, Scope, TokenAuth
from orchestrator_dynamic.services.audit import Actor
from orchestrator_dynamic.services.operations import Operations


def _auth(request: Request) -> TokenAuth:
    auth: TokenAuth = request.app.state.auth
    return auth


WORKER_ONLY = "a worker token may only post its own worker's results and heartbeats"


def require_read(request: Request) -> Scope:
    scope = _auth(request).scope_of(request)
    if scope is Scope.WORKER:
        raise HTTPException(status.HTTP_403_FORBIDDEN, WORKER_ONLY)
    return scope


def require_admin_principal(request: Request) -> Principal:
    principal = _auth(request).principal_of(request)
    if principal.scope is Scope.WORKER:
        raise HTTPException(status.HTTP_403_FORBIDDEN, WORKER_ONLY)
    if principal.scope is not Scope.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token may only read")
    return principal


def require_admin(request: Request) -> Scope:
    return require_admin_principal(request).scope


def require_reporter(request: Request) -> Principal:
    """An admin token, or a worker token (whose reports the route checks against its id)."""
    principal = _auth(request).principal_of(request)
    if principal.scope is Scope.READ:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token may only read")
    return principal


def actor_of(request: Request, principal: Principal, channel: str = "api") -> Actor:
    """Who an operator action is from, for the audit trail (never the token itself)."""
    source = request.client.host if request.client else "unknown"
    return Actor(principal.label, principal.token_id, source, channel)


def get_operations(request: Request) -> Operations:
    ops: Operations = request.app.state.services.operations
    return ops


def get_services(request: Request) -> Any:
    return request.app.state.services


OpsDep = Annotated[Operations, Depends(get_operations)]
ServicesDep = Annotated[Any, Depends(get_services)]
ReadScope = Depends(require_read)
# Changes by operators: an admin token, within the operators' rate limit.
AdminScope = Depends(require_admin)
OperatorLimit = Depends(operator_limit)
WorkerLimit = Depends(worker_limit)
DecisionLimit = Depends(decision_limit)
AdminDep = Annotated[Principal, Depends(require_admin_principal)]
ReporterDep = Annotated[Principal, Depends(require_reporter)]


# Stores take 64-bit offsets at most; anything near that is a client bug, not a page.
MAX_OFFSET = 1_000_000_000


class Page:
    """limit/offset pagination shared by every list."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]

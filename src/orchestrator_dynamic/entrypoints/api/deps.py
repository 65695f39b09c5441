"""FastAPI dependencies: the services from the app's runtime, and scope checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status

from orchestrator_dynamic.entrypoints.api.security import Scope, TokenAuth
from orchestrator_dynamic.services.operations import Operations


def _auth(request: Request) -> TokenAuth:
    auth: TokenAuth = request.app.state.auth
    return auth


def require_read(request: Request) -> Scope:
    return _auth(request).scope_of(request)


def require_admin(request: Request) -> Scope:
    scope = _auth(request).scope_of(request)
    if scope is not Scope.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token may only read")
    return scope


def get_operations(request: Request) -> Operations:
    ops: Operations = request.app.state.services.operations
    return ops


def get_services(request: Request) -> Any:
    return request.app.state.services


OpsDep = Annotated[Operations, Depends(get_operations)]
ServicesDep = Annotated[Any, Depends(get_services)]
ReadScope = Depends(require_read)
AdminScope = Depends(require_admin)


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

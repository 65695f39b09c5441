"""The built-in worker registry over HTTP: list, register, heartbeat."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from orchestrator_dynamic.domain.errors import Unauthorized
from orchestrator_dynamic.entrypoints.api.deps import (
    AdminScope,
    OperatorLimit,
    PageDep,
    ReadScope,
    ReporterDep,
    WorkerLimit,
)
from orchestrator_dynamic.entrypoints.api.security import Scope
from orchestrator_dynamic.entrypoints.api.worker_schemas import (
    Heartbeat,
    WorkerPublic,
    WorkerRegister,
)
from orchestrator_dynamic.services.workers import Registration, WorkerDirectory

router = APIRouter(prefix="/workers", tags=["workers"])


def get_directory(request: Request) -> WorkerDirectory:
    return WorkerDirectory(request.app.state.services.registry)


DirectoryDep = Annotated[WorkerDirectory, Depends(get_directory)]


@router.get("", response_model=list[WorkerPublic], dependencies=[ReadScope])
async def list_workers(
    directory: DirectoryDep,
    page: PageDep,
    capability: Annotated[list[str] | None, Query(description="Repeat to require several.")] = None,
    namespace: str | None = None,
) -> list[dict[str, Any]]:
    """Registered workers by id, with their health as of now."""
    return await directory.list(capability or [], namespace, page.limit, page.offset)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkerPublic,
    dependencies=[OperatorLimit, AdminScope],
)
async def register_worker(body: WorkerRegister, directory: DirectoryDep) -> dict[str, Any]:
    """Register (or re-register) a worker agent."""
    registration = Registration(
        worker_id=body.worker_id,
        capabilities=body.capabilities,
        namespace=body.namespace,
        security_level=body.security_level,
        max_concurrent_tasks=body.max_concurrent_tasks,
        success_rate=body.telemetry.success_rate,
        duration_score=body.telemetry.duration_score,
        experience=body.telemetry.experience,
    )
    return await directory.register(registration)


@router.post(
    "/{worker_id}/heartbeat", status_code=status.HTTP_202_ACCEPTED, dependencies=[WorkerLimit]
)
async def heartbeat(
    worker_id: str, body: Heartbeat, directory: DirectoryDep, principal: ReporterDep
) -> dict[str, str]:
    """A worker is alive; silence turns it DEGRADED, then UNHEALTHY. An admin token, or the
    worker's own `worker:<id>` token."""
    if principal.scope is Scope.WORKER and principal.worker_id != worker_id:
        raise Unauthorized(f"this token sends heartbeats for worker {principal.worker_id!r} only")
    await directory.heartbeat(worker_id, body.active_tasks)
    return {"worker_id": worker_id, "status": "accepted"}

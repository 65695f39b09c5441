"""Open endpoints: liveness, readiness of every dependency, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator_dynamic.entrypoints.api.deps import ServicesDep
from orchestrator_dynamic.services.readiness import ReadinessReport

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=ReadinessReport, responses={503: {"model": ReadinessReport}})
async def ready(services: ServicesDep) -> JSONResponse:
    """Each dependency with its status and latency; 503 when a required one is down."""
    report = await services.readiness()
    return JSONResponse(report.model_dump(), status_code=200 if report.ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

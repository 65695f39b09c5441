"""The FastAPI application. It receives ready services; it never builds adapters itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from orchestrator_dynamic import __version__
from orchestrator_dynamic.entrypoints.api import problems
from orchestrator_dynamic.entrypoints.api.body import BodyGuard
from orchestrator_dynamic.entrypoints.api.ratelimit import RateLimiter, RateLimits
from orchestrator_dynamic.entrypoints.api.routes import (
    audit,
    decisions,
    health,
    history,
    incidents,
    sla,
    tickets,
    ui,
    workers,
    workflows,
)
from orchestrator_dynamic.entrypoints.api.security import TokenAuth


def create_app(
    services: Any,
    tokens: Mapping[str, str],
    max_body_bytes: int = 1 << 20,
    extra_routers: list[APIRouter] | None = None,
    rate_limits: RateLimits | None = None,
) -> FastAPI:
    # /docs and /redoc load Swagger UI and ReDoc from files the package ships, not from a CDN,
    # so the docs work on a machine without internet access.
    app = FastAPIOffline(
        title="Orchestrator Dynamic",
        version=__version__,
        description="Durable execution of approved multi-agent plans (Flow C).",
        static_url="/docs-assets",
    )
    app.state.services = services
    app.state.auth = TokenAuth(tokens)
    app.state.rate_limiter = RateLimiter(rate_limits or _rate_limits(services))
    problems.install(app)
    app.add_middleware(BodyGuard, limit=max_body_bytes)
    app.include_router(health.router)
    v1 = APIRouter(prefix="/api/v1")
    for router in (decisions.router, workflows.router, tickets.router, incidents.router):
        v1.include_router(router)
    v1.include_router(sla.router)
    v1.include_router(workers.router)
    v1.include_router(history.router)
    v1.include_router(audit.router)
    for router in extra_routers or []:
        v1.include_router(router)
    app.include_router(v1)
    # The web console: pages at /ui, its own CSS and script at /ui/static (shipped in the package).
    app.include_router(ui.router)
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC_DIR), name="ui-static")
    app.add_exception_handler(ui.SignInRequired, ui.sign_in_required)
    # Server spans for every API call; probes and scrapes would only be noise in traces.
    FastAPIInstrumentor.instrument_app(app, excluded_urls="/health,/ready,/metrics")
    return app


def _rate_limits(services: Any) -> RateLimits:
    """From the runtime's settings when it has them (the defaults otherwise)."""
    settings = getattr(services, "settings", None)
    if settings is None:
        return RateLimits()
    return RateLimits(
        settings.api_rate_limit,
        settings.api_rate_limit_workers,
        settings.api_rate_limit_enabled,
        settings.api_rate_limit_decisions,
    )

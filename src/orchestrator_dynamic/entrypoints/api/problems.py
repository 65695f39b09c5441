"""Errors as application/problem+json (RFC 9457), each naming the field and the reason."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator_dynamic.domain.errors import (
    Conflict,
    DependencyDown,
    MalformedMessage,
    NotFound,
    OrchestratorError,
    PlanRefused,
    Unauthorized,
)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _errors(issues: Any) -> list[dict[str, str]]:
    return [{"field": i.path, "reason": i.message, "code": i.code} for i in issues]


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, MalformedMessage | PlanRefused):
        title = "Malformed message" if isinstance(exc, MalformedMessage) else "Plan refused"
        return problem(422, title, str(exc), errors=_errors(exc.issues))
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc))
    if isinstance(exc, Conflict):
        return problem(409, "Conflict", str(exc))
    if isinstance(exc, Unauthorized):
        return problem(403, "Forbidden", str(exc))
    if isinstance(exc, DependencyDown):
        return problem(503, "Dependency unavailable", str(exc), dependency=exc.dependency)
    return problem(500, "Internal error", type(exc).__name__)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in err["loc"] if p != "body"),
            "reason": err["msg"],
            "code": err["type"],
        }
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field'] or '<body>'}: {e['reason']}" for e in errors)
    return problem(422, "Invalid request", detail, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, str(exc.detail), str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(OrchestratorError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)

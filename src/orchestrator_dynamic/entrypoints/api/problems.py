"""Errors as application/problem+json (RFC 9457), each naming the field and the reason."""

from __future__ import annotations

from collections.abc import Mapping
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
    TooLarge,
    Unauthorized,
)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _errors(issues: Any) -> list[dict[str, str]]:
    return [{"field": i.path, "reason": i.message, "code": i.code} for i in issues]


# Permanent refusals, most specific first: never a retryable 5xx.
_REFUSALS: tuple[tuple[type[MalformedMessage | PlanRefused], int, str], ...] = (
    (TooLarge, 413, "Request too large"),
    (MalformedMessage, 422, "Malformed message"),
    (PlanRefused, 422, "Plan refused"),
)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, MalformedMessage | PlanRefused):
        status, title = next((s, t) for kind, s, t in _REFUSALS if isinstance(exc, kind))
        return problem(status, title, str(exc), errors=_errors(exc.issues))
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
    raw = getattr(request.state, "raw_body", b"")
    errors = [_validation_error(err, raw) for err in exc.errors()]
    detail = "; ".join(f"{e['field'] or '<body>'}: {e['reason']}" for e in errors)
    return problem(422, "Invalid request", detail, errors=errors)


def _validation_error(err: Mapping[str, Any], raw: bytes) -> dict[str, str]:
    loc = list(err["loc"])
    if err["type"] == "json_invalid":
        # FastAPI puts the parser's character offset where the field goes: the field is the
        # body as a whole, and the offset becomes a line and column a person can find.
        offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
        reason = (err.get("ctx") or {}).get("error") or err["msg"]
        return {
            "field": "",
            "reason": f"not valid JSON at {_line_column(raw, offset)}: {reason}",
            "code": "json_invalid",
        }
    if loc[:1] == ["body"]:
        loc = loc[1:]
    return {"field": ".".join(str(p) for p in loc), "reason": err["msg"], "code": err["type"]}


def _line_column(raw: bytes, offset: int) -> str:
    text = raw.decode("utf-8", errors="replace")[:offset]
    line = text.count("\n") + 1
    column = offset - (text.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"


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

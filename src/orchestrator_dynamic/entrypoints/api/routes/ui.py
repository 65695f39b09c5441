"""The web console at /ui: server-rendered pages over the same services as the JSON API.

GET pages need a `read` session, every POST an `admin` one plus the checks in ui_session (same
origin, CSRF token). Each route makes one call into the Console service.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from orchestrator_dynamic.domain.errors import Conflict, DependencyDown, NotFound
from orchestrator_dynamic.entrypoints.api.deps import OperatorLimit, actor_of
from orchestrator_dynamic.entrypoints.api.security import Scope, TokenAuth
from orchestrator_dynamic.entrypoints.api.ui_session import (
    COOKIE,
    COOKIE_MAX_AGE_S,
    COOKIE_PATH,
    Session,
    csrf_ok,
    same_origin,
    session_of,
)
from orchestrator_dynamic.services.console import Console, TemporalUi
from orchestrator_dynamic.services.workers import WorkerDirectory

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_DIR = HERE / "static"
PAGE_SIZE = 20
STATUSES = (
    "VALIDATING",
    "AWAITING_APPROVAL",
    "RUNNING",
    "COMPENSATING",
    "COMPLETED",
    "FAILED",
    "REFUSED",
    "REJECTED",
    "CANCELLED",
)

router = APIRouter(prefix="/ui", include_in_schema=False)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _temporal_ui(services: Any) -> TemporalUi:
    """The embedded dev server's UI; a cluster's UI address is not known to us."""
    settings = getattr(services, "settings", None)
    temporal = getattr(settings, "temporal", None)
    if settings is None or not getattr(temporal, "embedded", False):
        return TemporalUi(None)
    return TemporalUi(f"http://127.0.0.1:{settings.temporal_ui_port}", settings.temporal_namespace)


def get_console(request: Request) -> Console:
    services = request.app.state.services
    return Console(
        services.operations,
        WorkerDirectory(services.registry),
        getattr(services, "sla_monitor", None),
        services.store,
        _now_ms,
        _temporal_ui(services),
    )


ConsoleDep = Annotated[Console, Depends(get_console)]


class SignInRequired(Exception):
    """Raised by the page dependency; answered with the sign-in page (or 401 for JSON)."""


def page_session(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise SignInRequired
    return session


SessionDep = Annotated[Session, Depends(page_session)]


# Scripts and styles from this server only (inline style attributes draw the bars); no page may
# frame the console, so an approve button cannot be clicked through someone else's page.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def render(
    request: Request, name: str, session: Session | None, code: int = 200, **ctx: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"session": session, **ctx}, status_code=code, headers=SECURITY_HEADERS
    )


def _problem_page(request: Request, session: Session, code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", session, code, message=message)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the console's forms send)."""
    raw = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _safe_next(target: str) -> str:
    # Only our own pages: never an absolute or protocol-relative URL (an open redirect).
    if target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/workflows"


# ------------------------------------------------------------------ sign-in


@router.get("", response_class=HTMLResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/workflows", status.HTTP_303_SEE_OTHER)


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    request: Request, next_: Annotated[str, Query(alias="next")] = ""
) -> Response:
    return render(request, "signin.html", None, next=_safe_next(next_), error="")


@router.post("/signin", response_class=HTMLResponse, dependencies=[OperatorLimit])
async def signin(request: Request) -> Response:
    form = await _form(request)
    target = _safe_next(form.get("next", ""))
    if not same_origin(request):
        return render(request, "signin.html", None, 403, next=target, error="Refused: cross-origin")
    auth: TokenAuth = request.app.state.auth
    token = form.get("token", "").strip()
    principal = auth.principal_for(token) if token and not auth.open else None
    if principal is None:
        error = "This API needs no token." if auth.open else "Unknown token."
        return render(request, "signin.html", None, 401, next=target, error=error)
    if principal.scope is Scope.WORKER:
        error = "A worker token cannot sign in to the console."
        return render(request, "signin.html", None, 403, next=target, error=error)
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def signout(request: Request, session: SessionDep) -> Response:
    form = await _form(request)
    if not same_origin(request) or not csrf_ok(session, form.get("csrf", "")):
        return _problem_page(request, session, 403, "Refused: the form is not from this console.")
    response = RedirectResponse("/ui/signin", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


# ------------------------------------------------------------------ pages


@router.get("/workflows", response_class=HTMLResponse)
async def workflows_page(
    request: Request,
    session: SessionDep,
    console: ConsoleDep,
    status_: Annotated[str, Query(alias="status", pattern="^[A-Za-z_]*$")] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    listing = await console.workflows(status_ or None, q or None, PAGE_SIZE, (page - 1) * PAGE_SIZE)

    def link(to_page: int) -> str:
        params = {k: v for k, v in (("status", status_), ("q", q)) if v}
        return "/ui/workflows?" + urlencode({**params, "page": to_page})

    return render(
        request,
        "workflows.html",
        session,
        listing=listing,
        statuses=STATUSES,
        status=status_.upper(),
        q=q,
        page=page,
        prev_link=link(page - 1) if page > 1 else None,
        next_link=link(page + 1) if listing["has_next"] else None,
    )


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
async def plan_page(
    request: Request, workflow_id: str, session: SessionDep, console: ConsoleDep
) -> Response:
    try:
        plan = await console.plan(workflow_id)
    except NotFound:
        return _problem_page(request, session, 404, f"No workflow {workflow_id}.")
    return render(request, "plan.html", session, plan=plan, workflow_id=workflow_id)


@router.get("/workflows/{workflow_id}/graph.json")
async def plan_json(request: Request, workflow_id: str, console: ConsoleDep) -> Response:
    """What the plan page polls (the workflow's query, read for drawing)."""
    if session_of(request) is None:
        return JSONResponse({"detail": "sign in first"}, status.HTTP_401_UNAUTHORIZED)
    try:
        plan = await console.plan(workflow_id)
    except NotFound:
        return JSONResponse({"detail": f"no workflow {workflow_id}"}, status.HTTP_404_NOT_FOUND)
    except DependencyDown as exc:
        return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse(plan, headers={"Cache-Control": "no-store"})


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(
    request: Request, ticket_id: str, session: SessionDep, console: ConsoleDep
) -> Response:
    try:
        detail = await console.ticket(ticket_id)
    except NotFound:
        return _problem_page(request, session, 404, f"No ticket {ticket_id}.")
    return render(request, "ticket.html", session, detail=detail)


@router.get("/approvals", response_class=HTMLResponse)
async def approvals_page(request: Request, session: SessionDep, console: ConsoleDep) -> Response:
    waiting = await console.approvals()
    return render(request, "approvals.html", session, waiting=waiting)


@router.post(
    "/workflows/{workflow_id}/decide", response_class=HTMLResponse, dependencies=[OperatorLimit]
)
async def decide(
    request: Request, workflow_id: str, session: SessionDep, console: ConsoleDep
) -> Response:
    """Approve or reject from the approvals queue: admin only, same origin, CSRF token."""
    form = await _form(request)
    if not same_origin(request) or not csrf_ok(session, form.get("csrf", "")):
        return _problem_page(request, session, 403, "Refused: the form is not from this console.")
    if not session.admin:
        return _problem_page(request, session, 403, "This token may only read.")
    problem = _decision_problem(form)
    if problem:
        return _problem_page(request, session, 400, problem)
    action, reason = form["action"], form["reason"].strip()
    by = form.get("by", "").strip()[:200] or "console"
    try:
        actor = actor_of(request, session.principal, "console")
        await console.decide(workflow_id, action == "approve", by, reason, actor)
    except NotFound:
        return _problem_page(request, session, 404, f"No workflow {workflow_id}.")
    except Conflict as exc:
        return _problem_page(request, session, 409, str(exc))
    return RedirectResponse(
        f"/ui/workflows/{quote(workflow_id, safe='')}", status.HTTP_303_SEE_OTHER
    )


def _decision_problem(form: dict[str, str]) -> str:
    """What is wrong with an approve/reject form, naming the field; empty when nothing is."""
    if form.get("action") not in {"approve", "reject"}:
        return "action: must be approve or reject"
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > 2_000:
        return "reason: required, 2,000 characters at most"
    return ""


@router.get("/operations", response_class=HTMLResponse)
async def operations_page(request: Request, session: SessionDep, console: ConsoleDep) -> Response:
    overview = await console.operations()
    return render(request, "operations.html", session, ops=overview)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """A page asked for without a session: the sign-in page, which comes back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/signin?" + urlencode({"next": target}), status.HTTP_303_SEE_OTHER)

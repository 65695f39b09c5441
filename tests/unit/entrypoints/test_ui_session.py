"""The console's form checks: same origin, CSRF token bound to the session's token."""

from __future__ import annotations

from starlette.requests import Request

from orchestrator_dynamic.entrypoints.api.security import Scope
from orchestrator_dynamic.entrypoints.api.ui_session import (
    Session,
    csrf_for,
    csrf_ok,
    same_origin,
)


def request(**headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/ui/x",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *raw],
        "server": ("127.0.0.1", 8000),
    }
    return Request(scope)


def test_same_origin_accepts_only_this_server() -> None:
    assert same_origin(request(origin="http://127.0.0.1:8000"))
    assert not same_origin(request(origin="http://evil.example"))
    assert not same_origin(request(origin="http://127.0.0.1:8001"))
    assert not same_origin(request(origin="null"))
    assert not same_origin(request())  # neither Origin nor Referer: refused
    assert same_origin(request(referer="http://127.0.0.1:8000/ui/approvals"))
    assert not same_origin(request(referer="http://127.0.0.1:8000.evil.example/ui"))


def test_the_csrf_token_belongs_to_one_session_token() -> None:
    session = Session(Scope.ADMIN, csrf_for("admin-token"), signed_in=True)
    assert csrf_ok(session, csrf_for("admin-token"))
    assert not csrf_ok(session, csrf_for("read-token"))
    assert not csrf_ok(session, "")
    assert csrf_for("admin-token") != "admin-token"

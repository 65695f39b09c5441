"""The console's sign-in: the API token kept in a cookie, and the checks that make forms safe.

The cookie is HttpOnly (no script reads the token) and SameSite=Strict (a browser does not send it
with a request another site starts). Every console POST must then pass two checks:

* its Origin (or, without one, its Referer) is this server's own origin. SameSite only knows sites,
  so a page on a sibling subdomain is "same-site" and would still get the cookie sent; the Origin
  check refuses it, and it costs nothing;
* it carries the form's CSRF token: an HMAC of the session's token, keyed by that token. It is
  stateless (any replica checks it, nothing is stored) and nobody without the token can compute
  it, which still protects a browser or proxy that drops the Origin and Referer headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request

from orchestrator_dynamic.entrypoints.api.security import OPEN, Principal, Scope, TokenAuth

COOKIE = "od_console"
# Only console pages need the cookie; the JSON API keeps taking bearer tokens.
COOKIE_PATH = "/ui"
COOKIE_MAX_AGE_S = 12 * 3600
_OPEN_SECRET = secrets.token_hex(32)  # an open (loopback, tokenless) API signs forms with it


@dataclass(frozen=True)
class Session:
    scope: Scope
    csrf: str
    signed_in: bool  # False when the API runs open and nobody had to sign in
    principal: Principal = OPEN

    @property
    def admin(self) -> bool:
        return self.scope is Scope.ADMIN


def csrf_for(token: str) -> str:
    return hmac.new(
        token.encode(), b"orchestrator-dynamic console form", hashlib.sha256
    ).hexdigest()


def session_of(request: Request) -> Session | None:
    """Who the browser signed in as; None if nobody did (or the token is no longer known)."""
    auth: TokenAuth = request.app.state.auth
    if auth.open:
        return Session(Scope.ADMIN, csrf_for(_OPEN_SECRET), signed_in=False)
    token = request.cookies.get(COOKIE, "")
    principal = auth.principal_for(token) if token else None
    if principal is None or principal.scope is Scope.WORKER:  # workers have no console
        return None
    return Session(principal.scope, csrf_for(token), signed_in=True, principal=principal)


def same_origin(request: Request) -> bool:
    """The request's Origin, else its Referer, names this server (scheme, host and port)."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer", "")
        return bool(referer) and (referer.lower() + "/").startswith(own + "/")
    return origin.lower() == own


def csrf_ok(session: Session, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted)

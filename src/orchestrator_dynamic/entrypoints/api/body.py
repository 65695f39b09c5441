"""Request bodies, checked before any route sees them.

The size limit counts the bytes actually received, so a chunked body (no Content-Length) or a
Content-Length that lies cannot get around it. A body must be JSON (every route that takes one
does; the web console's forms under /ui/ are urlencoded); one without a Content-Type is read as
JSON, like FastAPI does. The bytes are kept in the
request state so a JSON syntax error can be reported by line and column.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator_dynamic.entrypoints.api import problems

RAW_BODY = "raw_body"


class BodyGuard:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._too_large()(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._too_large()(scope, receive, send)
                return
            more = message.get("more_body", False)
        content_type = headers.get("content-type")
        if (
            body
            and content_type is not None
            and not is_json(content_type)
            and not is_console_form(scope["path"], content_type)
        ):
            media = content_type.partition(";")[0].strip()
            detail = f"the body must be application/json, not {media or 'empty'}"
            await problems.problem(415, "Unsupported media type", detail)(scope, receive, send)
            return
        scope.setdefault("state", {})[RAW_BODY] = bytes(body)
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> JSONResponse:
        detail = f"the body may be at most {self.limit} bytes (API_MAX_BODY_BYTES)"
        return problems.problem(413, "Request too large", detail)


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and "+json" in media)


def is_console_form(path: str, content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return path.startswith("/ui/") and media == "application/x-www-form-urlencoded"


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then the client's own messages (a disconnect, say)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

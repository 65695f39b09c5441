"""An OPA stand-in: no OPA server can run on this machine, so this small HTTP server speaks
OPA's REST Data API (``POST /v1/data/<path>`` with ``{"input": ...}`` -> ``{"result": ...}``,
``{}`` when undefined; a package's path answers the whole package document, as OPA does;
``GET /health``) and evaluates the Rego policies of a directory (the repository's, or a test's)
with the same regorus engine the embedded adapter uses. Knobs let tests make it slow or fail."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import regorus
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator_dynamic.adapters.policy.compile import compile_policies
from tests.servers.ports import free_port


class OpaStandIn:
    """``mode``: "ok", "error" (HTTP 500) or "slow" (answers after ``delay_s``)."""

    def __init__(self, policy_dir: Path) -> None:
        self.policy_dir = policy_dir
        self._initial_dir = policy_dir
        self._engine: regorus.Engine | None = None
        self._pending: Path | None = None
        self.mode = "ok"
        self.delay_s = 1.0
        self.requests = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET"]),
                Route("/v1/data/{path:path}", self._data, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._server.run()
        self._engine = None  # dropped on the thread that made it, as regorus requires

    def reset(self) -> None:
        self.mode, self.delay_s, self.requests = "ok", 1.0, 0
        if self._pending is not None or self.policy_dir != self._initial_dir:
            self.load(self._initial_dir)

    def load(self, policy_dir: Path) -> None:
        """Serve another policy directory from the next query on, as OPA does once a new
        bundle is activated (the old engine is dropped on the server's thread)."""
        self._pending = policy_dir

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the OPA stand-in did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _health(self, request: Request) -> Response:
        return JSONResponse({})

    async def _data(self, request: Request) -> Response:
        self.requests += 1
        if self.mode == "error":
            return JSONResponse({"code": "internal_error", "message": "boom"}, status_code=500)
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        body: dict[str, Any] = await request.json()
        rule = "data." + request.path_params["path"].strip("/").replace("/", ".")
        # A regorus engine may only be used by the thread that made it: the server's thread.
        if self._pending is not None:
            self.policy_dir, self._pending, self._engine = self._pending, None, None
        if self._engine is None:
            self._engine = compile_policies(self.policy_dir)
        self._engine.set_input(body.get("input", {}))
        try:
            raw = self._engine.eval_rule_as_json(rule)
        except RuntimeError:
            return self._document(rule)
        return Response(f'{{"result": {raw}}}', media_type="application/json")

    def _document(self, path: str) -> Response:
        """Not a rule: a package (or any document) is answered whole, as OPA's Data API
        does; nothing there is undefined, which OPA answers with no "result"."""
        assert self._engine is not None
        try:
            answer = json.loads(self._engine.eval_query_as_json(path))
        except RuntimeError:
            return JSONResponse({})
        found = answer.get("result") or []
        if not found:
            return JSONResponse({})
        return JSONResponse({"result": found[0]["expressions"][0]["value"]})

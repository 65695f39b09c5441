"""An OPA stand-in: no OPA server can run on this machine, so this small HTTP server speaks
OPA's REST Data API (``POST /v1/data/<path>`` with ``{"input": ...}`` -> ``{"result": ...}``,
``{}`` when undefined; ``GET /health``) and evaluates the repository's Rego policies with the
same regorus engine the embedded adapter uses. Knobs let tests make it slow or fail."""

from __future__ import annotations

import asyncio
import socket
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OpaStandIn:
    """``mode``: "ok", "error" (HTTP 500) or "slow" (answers after ``delay_s``)."""

    def __init__(self, policy_dir: Path) -> None:
        self.policy_dir = policy_dir
        self._engine: regorus.Engine | None = None
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
        if self._engine is None:
            self._engine = compile_policies(self.policy_dir)
        self._engine.set_input(body.get("input", {}))
        try:
            raw = self._engine.eval_rule_as_json(rule)
        except RuntimeError:
            return JSONResponse({})  # OPA answers an undefined document with no "result"
        return Response(f'{{"result": {raw}}}', media_type="application/json")

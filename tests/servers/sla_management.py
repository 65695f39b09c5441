"""A stand-in for the external SLA management API: a real HTTP server on a loopback port.

The real service cannot run here, so this serves ``GET /api/v1/budgets`` from a mutable answer
and records every request; tests switch it to errors or garbage to exercise fail-open. It serves
either our documented shape (``body``, any JSON) or, with ``upstream`` set, the shape of the
upstream SLA management system's ``list_budgets``: ``{"budgets": [...], "total": N}`` with full
upstream ErrorBudget documents (``upstream_budget``), filtered by the ``service_name`` and
``status`` query parameters as upstream filters them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class StandIn:
    url: str = ""
    status: int = 200
    body: Any = field(default_factory=list)
    raw: bytes | None = None  # when set, sent instead of ``body`` (for malformed answers)
    upstream: list[dict[str, Any]] | None = None  # when set, answered in upstream's shape
    requests: list[dict[str, list[str]]] = field(default_factory=list)

    def answer(self, query: dict[str, list[str]]) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.upstream is None:
            return json.dumps(self.body).encode()
        wanted = {key: values[0] for key, values in query.items() if key in FILTERS}
        budgets = [b for b in self.upstream if all(b[k] == v for k, v in wanted.items())]
        return json.dumps({"budgets": budgets, "total": len(budgets)}).encode()


FILTERS = ("service_name", "status")


def upstream_budget(
    service_name: str,
    slo_id: str,
    *,
    remaining: float,
    status: str,
    slo_target: float,
    burn_rates: dict[int, float] | None = None,
) -> dict[str, Any]:
    """One ErrorBudget document as the upstream SLA management system serialises it."""
    total = round((1 - slo_target) * 100, 6)
    return {
        "budget_id": f"{slo_id}-budget",
        "slo_id": slo_id,
        "service_name": service_name,
        "calculated_at": "2026-02-21T10:18:08.353000",
        "window_start": "2026-01-22T10:18:08.353000",
        "window_end": "2026-02-21T10:18:08.353000",
        "sli_value": 1 - total * (100 - remaining) / 100 / 100,  # the SLI that consumed it
        "slo_target": slo_target,
        "error_budget_total": total,
        "error_budget_consumed": 100 - remaining,
        "error_budget_remaining": remaining,
        "status": status,
        "burn_rates": [
            {
                "window_hours": hours,
                "rate": rate,
                "level": "NORMAL",
                "estimated_exhaustion_hours": None,
            }
            for hours, rate in (burn_rates or {}).items()
        ],
        "violations_count": 0,
        "last_violation_at": None,
        "metadata": {},
    }


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/api/v1/budgets":
                self.send_error(404)
                return
            query = parse_qs(parts.query)
            state.requests.append(query)
            payload = state.answer(query)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler


@contextmanager
def sla_management_stand_in() -> Iterator[StandIn]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

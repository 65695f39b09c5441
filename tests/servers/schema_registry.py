"""A Schema Registry stand-in: a real HTTP server (standard library) answering the registry's
`GET /schemas/ids/{id}` as its REST API does, from a fixed table of schemas.

A real Schema Registry (a JVM service) cannot run here; this is the closest honest stand-in for
the one call the orchestrator makes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def schema_registry(schemas: Mapping[int, Mapping[str, Any]]) -> Iterator[str]:
    """Serve ``{id: response body}`` (``{"schema": "<json text>"}`` and optionally
    ``schemaType``); yields the base URL and stops the server on exit."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            head, _, tail = self.path.rpartition("/")
            body = schemas.get(int(tail)) if head == "/schemas/ids" and tail.isdigit() else None
            if body is None:
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b'{"error_code": 40403, "message": "Schema not found"}')
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

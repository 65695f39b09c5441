"""The Schema Registry path.

A real Schema Registry cannot run here, so these tests use the closest honest stand-in: a small
HTTP server (standard library) answering `GET /schemas/ids/{id}` exactly as the registry's REST
API does, serving the bundled schema. Set SCHEMA_REGISTRY_URL to also run against a real one.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator_dynamic.adapters.serialization.avro import (
    decode_message,
    encode_avro,
    schema_json,
    to_confluent,
)
from orchestrator_dynamic.adapters.serialization.schema_registry import SchemaRegistryClient
from orchestrator_dynamic.bootstrap import decoder
from orchestrator_dynamic.domain.decode import hash_matches, parse_decision
from orchestrator_dynamic.domain.errors import BusUnavailable, MalformedMessage
from tests.conftest import decision_bytes
from tests.upstream import as_avro, upstream_decision, upstream_writer_schema

SCHEMA_ID = 42
UPSTREAM_ID = 43  # upstream's writer schema: enum DecisionType, records in other namespaces
BROKEN_ID = 44  # a schema no Avro library can parse
PROTOBUF_ID = 45


def served(schema_id: int) -> dict[str, object] | None:
    if schema_id == SCHEMA_ID:
        return {"schema": json.dumps(schema_json("ConsolidatedDecision"))}
    if schema_id == UPSTREAM_ID:
        return {"schema": json.dumps(upstream_writer_schema())}
    if schema_id == BROKEN_ID:
        broken = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "nothing"}]}
        return {"schema": json.dumps(broken)}
    if schema_id == PROTOBUF_ID:
        return {"schema": 'syntax = "proto3";', "schemaType": "PROTOBUF"}
    return None


class StandIn(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        StandIn.hits.append(self.path)
        doc = served(int(self.path.rsplit("/", 1)[-1])) if "/schemas/ids/" in self.path else None
        if doc is None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error_code": 40403, "message": "Schema not found"}')
            return
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def framed_decision() -> tuple[bytes, dict[str, object]]:
    doc = parse_decision(decision_bytes("approve-5-task-dag")).model_dump(mode="json")
    return to_confluent(SCHEMA_ID, encode_avro("ConsolidatedDecision", doc)), doc


async def test_writer_schema_comes_from_the_registry_and_is_cached(registry_url: str) -> None:
    client = SchemaRegistryClient(registry_url)
    raw, doc = framed_decision()
    StandIn.hits.clear()
    for _ in range(2):
        decoded = await decode_message("ConsolidatedDecision", raw, client.schema)
        assert parse_decision(decoded) == parse_decision(doc)
    assert StandIn.hits == [f"/schemas/ids/{SCHEMA_ID}"]
    await client.close()


async def test_unknown_schema_id_is_named(registry_url: str) -> None:
    client = SchemaRegistryClient(registry_url)
    with pytest.raises(MalformedMessage) as err:
        await client.schema(7)
    assert "unknown schema id 7" in str(err.value)
    await client.close()


async def test_upstream_writer_schema_with_other_names_is_resolved_by_field_name(
    registry_url: str,
) -> None:
    """The registry serves the writer's schema (DecisionType, other namespaces); the composition root's
    decoder resolves it against ours and the decision reads as upstream built it."""
    client = SchemaRegistryClient(registry_url)
    doc = upstream_decision()
    decoded = await decoder("ConsolidatedDecision", client)(as_avro(doc, UPSTREAM_ID))
    decision = parse_decision(decoded)
    assert decision == parse_decision(doc)
    assert decision.final_decision == "approve" and hash_matches(decision)
    await client.close()


@pytest.mark.parametrize(
    ("schema_id", "code"), [(BROKEN_ID, "avro.writer_schema"), (PROTOBUF_ID, "avro.schema_type")]
)
async def test_a_writer_schema_we_cannot_use_makes_the_record_malformed(
    registry_url: str, schema_id: int, code: str
) -> None:
    client = SchemaRegistryClient(registry_url)
    with pytest.raises(MalformedMessage) as err:
        await decoder("ConsolidatedDecision", client)(to_confluent(schema_id, b"\x02"))
    assert err.value.issues[0].code == code
    assert str(schema_id) in err.value.issues[0].message
    await client.close()


async def test_unreachable_registry_is_a_dependency_outage() -> None:
    client = SchemaRegistryClient("http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(BusUnavailable):
        await client.schema(1)
    await client.close()


@pytest.mark.skipif(not os.environ.get("SCHEMA_REGISTRY_URL"), reason="SCHEMA_REGISTRY_URL not set")
async def test_against_a_real_registry() -> None:
    import httpx

    url = os.environ["SCHEMA_REGISTRY_URL"]
    schema = json.dumps(schema_json("ConsolidatedDecision"))
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/subjects/plans.consensus-value/versions",
            json={"schema": schema},
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        schema_id = response.json()["id"]
    client = SchemaRegistryClient(url)
    _, doc = framed_decision()
    raw = to_confluent(schema_id, encode_avro("ConsolidatedDecision", doc))
    decoded = await decode_message("ConsolidatedDecision", raw, client.schema)
    assert parse_decision(decoded) == parse_decision(doc)
    await client.close()


def upstream_schemas_dir() -> Path:
    default = Path(__file__).parents[3].parent / "shared" / "upstream" / "schemas"
    return Path(os.environ.get("UPSTREAM_SCHEMAS_DIR", default))


@pytest.mark.skipif(
    not (upstream_schemas_dir() / "consolidated-decision.avsc").exists(),
    reason="upstream's schemas are not beside the repo (UPSTREAM_SCHEMAS_DIR)",
)
async def test_upstream_published_schema_as_the_writer() -> None:
    """Upstream's own consolidated-decision.avsc, as its producer registers it."""
    writer = json.loads((upstream_schemas_dir() / "consolidated-decision.avsc").read_text())
    doc = upstream_decision()
    decoded = await decode_message(
        "ConsolidatedDecision", as_avro(doc, 3, writer), lambda _: writer
    )
    assert parse_decision(decoded) == parse_decision(doc)
    assert hash_matches(parse_decision(decoded))

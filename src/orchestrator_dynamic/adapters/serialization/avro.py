"""Avro with the project's bundled schemas, and the Confluent wire format.

Confluent framing: byte 0 = magic 0, bytes 1-4 = schema id (big-endian), then the Avro body.
Decoded records come back in their JSON form (timestamps as epoch-millis ints, enums as symbols),
so the same domain parsing serves both encodings.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import struct
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from typing import Any

import fastavro

from orchestrator_dynamic.domain.errors import Issue, MalformedMessage
from orchestrator_dynamic.domain.model import (
    WIRE_CANCELLED_ERROR,
    WIRE_CANCELLED_STATUS,
    TicketStatus,
)

MAGIC = 0
HEADER = struct.Struct(">bI")
SCHEMA_NAMES = (
    "ConsolidatedDecision",
    "CognitivePlan",
    "ExecutionTicket",
    "ExecutionResult",
    "TelemetryEvent",
    "OrchestrationIncident",
)
SchemaResolver = Callable[[int], dict[str, Any] | Awaitable[dict[str, Any]]]


def schema_json(name: str) -> dict[str, Any]:
    """The bundled schema as written (with logical types), e.g. to register it."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no bundled schema {name!r}")
    text = resources.files("orchestrator_dynamic.schemas").joinpath(f"{name}.avsc").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def _plain(node: Any) -> Any:
    """Drop logical types: on the wire timestamp-millis is a long, and we keep it an int."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@cache
def parsed(name: str) -> Any:
    return fastavro.parse_schema(_plain(schema_json(name)))


def parse_writer(schema: dict[str, Any]) -> Any:
    return fastavro.parse_schema(_plain(copy.deepcopy(schema)))


def _wire_ticket(record: dict[str, Any]) -> dict[str, Any]:
    """Our CANCELLED is not a symbol of the platform's TicketStatus enum: it goes out as FAILED
    with ``error_message: cancelled``."""
    if record.get("status") != TicketStatus.CANCELLED.value:
        return record
    status, error = WIRE_CANCELLED_STATUS.value, WIRE_CANCELLED_ERROR
    return {**record, "status": status, "error_message": error}


def encode_avro(name: str, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    if name == "ExecutionTicket":
        record = _wire_ticket(record)
    try:
        fastavro.schemaless_writer(out, parsed(name), record)
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedMessage([Issue("avro.encode", f"does not fit {name}: {exc}")]) from exc
    return out.getvalue()


def decode_avro(name: str, body: bytes, writer: Any | None = None) -> dict[str, Any]:
    try:
        record = fastavro.schemaless_reader(io.BytesIO(body), writer or parsed(name), parsed(name))
    except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        message = f"Avro body does not match {name}: {type(exc).__name__}: {exc}"
        raise MalformedMessage([Issue("avro.invalid", message)]) from exc
    if not isinstance(record, dict):
        raise MalformedMessage([Issue("avro.invalid", f"{name} body is not a record")])
    return record


def to_confluent(schema_id: int, body: bytes) -> bytes:
    return HEADER.pack(MAGIC, schema_id) + body


def split_confluent(raw: bytes) -> tuple[int, bytes]:
    if len(raw) < HEADER.size:
        message = f"{len(raw)} bytes is shorter than the 5-byte Confluent header"
        raise MalformedMessage([Issue("avro.truncated", message)])
    magic, schema_id = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise MalformedMessage([Issue("avro.magic", f"magic byte is {magic}, not 0")])
    return schema_id, raw[HEADER.size :]


def encode_json(model: Any) -> bytes:
    """Compact JSON of a pydantic model's wire form."""
    return json.dumps(model.model_dump(mode="json"), separators=(",", ":")).encode()


async def decode_message(
    name: str, raw: bytes, resolve_schema: SchemaResolver | None = None
) -> dict[str, Any]:
    """Plain JSON (an object) or the Confluent Avro wire format, told apart by the first byte."""
    if not raw:
        raise MalformedMessage([Issue("message.empty", "the record has no value")])
    if raw[0] == MAGIC:
        schema_id, body = split_confluent(raw)
        writer = None
        if resolve_schema is not None:
            found = resolve_schema(schema_id)
            schema = await found if inspect.isawaitable(found) else found
            writer = parse_writer(schema)
        return decode_avro(name, body, writer)
    stripped = raw.lstrip()
    if stripped[:1] != b"{":
        first = f"0x{raw[0]:02x}"
        message = f"neither JSON nor Confluent Avro (first byte {first})"
        raise MalformedMessage([Issue("message.format", message)])
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage([Issue("json.invalid", f"not valid JSON: {exc}")]) from exc
    if not isinstance(doc, dict):
        raise MalformedMessage([Issue("json.not_object", "must be a JSON object")])
    return doc

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
from functools import cache, lru_cache
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


NAMED = ("record", "enum", "fixed")


def aliased_reader(reader: Any, writer: Any) -> Any:
    """Our schema with the writer's names added as aliases wherever the two schemas put a named
    type at the same place (matched by field name), so Avro's resolution pairs them even when
    the writer calls them otherwise (upstream's ``DecisionType`` is our ``FinalDecision``) or puts
    them in another namespace. Fields are still resolved by name; nothing else changes."""
    return _alias(copy.deepcopy(reader), writer, {})


def _alias(reader: Any, writer: Any, defined: dict[str, Any]) -> Any:
    if isinstance(writer, str) and writer in defined:
        writer = defined[writer]  # a reference to a named type the writer defined earlier
    if isinstance(reader, list):
        return [_alias(branch, _same_kind(branch, writer), defined) for branch in reader]
    if isinstance(writer, list):
        return _alias(reader, _same_kind(reader, writer), defined)
    if not isinstance(reader, dict) or not isinstance(writer, dict):
        return reader
    if isinstance(writer.get("name"), str) and writer.get("type") in NAMED:
        defined[_full_name(writer)] = defined[writer["name"]] = writer
    _add_alias(reader, writer)
    _alias_children(reader, writer, defined)
    return reader


def _add_alias(reader: dict[str, Any], writer: dict[str, Any]) -> None:
    kind = reader.get("type")
    if kind in NAMED and kind == writer.get("type") and reader.get("name") != writer.get("name"):
        aliases = list(reader.get("aliases", []))
        for alias in (_full_name(writer), str(writer.get("name"))):
            if alias not in aliases:
                aliases.append(alias)
        reader["aliases"] = aliases


def _alias_children(
    reader: dict[str, Any], writer: dict[str, Any], defined: dict[str, Any]
) -> None:
    kind, other = reader.get("type"), writer.get("type")
    if kind == other == "record":
        by_name = {f["name"]: f for f in writer.get("fields", [])}
        for field in reader.get("fields", []):
            if field["name"] in by_name:
                field["type"] = _alias(field["type"], by_name[field["name"]]["type"], defined)
    elif kind == other == "array":
        reader["items"] = _alias(reader["items"], writer["items"], defined)
    elif kind == other == "map":
        reader["values"] = _alias(reader["values"], writer["values"], defined)
    elif isinstance(kind, dict | list):
        reader["type"] = _alias(kind, other if other is not None else writer, defined)


def _same_kind(reader: Any, writer: Any) -> Any:
    """The writer's branch of a union that corresponds to this reader type (by kind, then name)."""
    branches = writer if isinstance(writer, list) else [writer]
    kind = _kind(reader)
    candidates = [b for b in branches if _kind(b) == kind]
    if len(candidates) > 1 and isinstance(reader, dict):
        named = [
            b for b in candidates if isinstance(b, dict) and b.get("name") == reader.get("name")
        ]
        candidates = named or candidates
    return candidates[0] if candidates else None


def _kind(node: Any) -> Any:
    if isinstance(node, dict):
        inner = node.get("type")
        return _kind(inner) if isinstance(inner, dict | list) else inner
    return "union" if isinstance(node, list) else node


def _full_name(node: dict[str, Any]) -> str:
    name = str(node.get("name", ""))
    namespace = node.get("namespace")
    return f"{namespace}.{name}" if namespace and "." not in name else name


@lru_cache(maxsize=64)
def resolution(name: str, writer_text: str) -> tuple[Any, Any]:
    """Parsed (writer, reader) for a writer schema given as JSON text; cached by its text."""
    writer = _plain(json.loads(writer_text))
    reader = aliased_reader(_plain(schema_json(name)), writer)
    return fastavro.parse_schema(writer), fastavro.parse_schema(reader)


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


def decode_avro(
    name: str, body: bytes, writer: Any | None = None, reader: Any | None = None
) -> dict[str, Any]:
    try:
        record = fastavro.schemaless_reader(
            io.BytesIO(body), writer or parsed(name), reader or parsed(name)
        )
    except Exception as exc:  # any failure of the decoder is this record's fault, never ours
        message = f"Avro body does not match {name}: {type(exc).__name__}: {exc}"
        raise MalformedMessage([Issue("avro.invalid", message)]) from exc
    if not isinstance(record, dict):
        raise MalformedMessage([Issue("avro.invalid", f"{name} body is not a record")])
    return record


def _resolution_of(name: str, schema_id: int, schema: dict[str, Any]) -> tuple[Any, Any]:
    try:
        return resolution(name, json.dumps(schema, sort_keys=True))
    except Exception as exc:  # a writer schema we cannot use is the record's problem
        message = f"writer schema {schema_id} cannot be read as {name}: {type(exc).__name__}: {exc}"
        raise MalformedMessage([Issue("avro.writer_schema", message)]) from exc


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
        writer = reader = None
        if resolve_schema is not None:
            found = resolve_schema(schema_id)
            schema = await found if inspect.isawaitable(found) else found
            writer, reader = _resolution_of(name, schema_id, schema)
        return decode_avro(name, body, writer, reader)
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

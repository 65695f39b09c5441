"""A Schema Registry client: writer schemas by id (`GET /schemas/ids/{id}`), cached forever
(ids are immutable in a registry)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from orchestrator_dynamic.domain.errors import BusUnavailable, Issue, MalformedMessage


class SchemaRegistryClient:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s)
        self._cache: dict[int, dict[str, Any]] = {}

    async def schema(self, schema_id: int) -> dict[str, Any]:
        if schema_id in self._cache:
            return self._cache[schema_id]
        try:
            response = await self._http.get(f"/schemas/ids/{schema_id}")
        except httpx.HTTPError as exc:
            raise BusUnavailable("schema_registry", str(exc)) from exc
        if response.status_code == 404:
            raise MalformedMessage([Issue("avro.unknown_schema", f"unknown schema id {schema_id}")])
        if response.status_code >= 400:
            raise BusUnavailable("schema_registry", f"HTTP {response.status_code}")
        schema = _avro_schema(schema_id, response)
        self._cache[schema_id] = schema
        return schema

    async def close(self) -> None:
        await self._http.aclose()


def _avro_schema(schema_id: int, response: httpx.Response) -> dict[str, Any]:
    """The schema of a 2xx answer. A body that is not the registry's JSON is the registry
    misbehaving (retried like an outage); a schema that is not an Avro record is the record's."""
    try:
        body = response.json()
        text = body["schema"]
        kind = body.get("schemaType", "AVRO")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BusUnavailable("schema_registry", f"unreadable answer for id {schema_id}") from exc
    if kind != "AVRO":
        issue = Issue("avro.schema_type", f"schema id {schema_id} is {kind}, not Avro")
        raise MalformedMessage([issue])
    try:
        schema = json.loads(text)
    except (TypeError, ValueError) as exc:
        message = f"schema id {schema_id} is not valid JSON: {exc}"
        raise MalformedMessage([Issue("avro.writer_schema", message)]) from exc
    if not isinstance(schema, dict):
        message = f"schema id {schema_id} is not a record schema"
        raise MalformedMessage([Issue("avro.writer_schema", message)])
    return schema

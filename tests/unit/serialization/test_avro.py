"""Avro and JSON round trips, Confluent framing, and the schemas against CONTRACTS.md."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from orchestrator_dynamic.adapters.serialization.avro import (
    SCHEMA_NAMES,
    decode_avro,
    decode_message,
    encode_avro,
    schema_json,
    split_confluent,
    to_confluent,
)
from orchestrator_dynamic.domain import model
from orchestrator_dynamic.domain.decode import parse_decision, parse_plan
from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.services.planning import plan_document
from tests.conftest import DECISIONS, FIXTURES

VALID = [p for p in sorted(DECISIONS.glob("*.json")) if not p.stem.startswith("malformed")]
MODELS: dict[str, type[BaseModel]] = {
    "ConsolidatedDecision": model.ConsolidatedDecision,
    "CognitivePlan": model.CognitivePlan,
    "ExecutionTicket": model.ExecutionTicket,
    "ExecutionResult": model.ExecutionResult,
    "TelemetryEvent": model.TelemetryEvent,
    "OrchestrationIncident": model.OrchestrationIncident,
}


def round_trip(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    return decode_avro(name, encode_avro(name, doc))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_decision_fixtures_round_trip_through_avro(path: Path) -> None:
    decision = parse_decision(path.read_bytes())
    doc = decision.model_dump(mode="json")
    assert parse_decision(round_trip("ConsolidatedDecision", doc)) == decision
    plan = parse_plan(decision)
    plan_doc = plan.model_dump(mode="json")
    assert model.CognitivePlan.model_validate(round_trip("CognitivePlan", plan_doc)) == plan


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_tickets_from_every_valid_fixture_decode_with_the_ticket_schema(path: Path) -> None:
    try:
        planned = plan_document(path.read_bytes(), 1_795_000_100_000)
    except PlanRefused:  # refused plans have no tickets
        return
    for ticket in planned.tickets:
        doc = ticket.model_dump(mode="json")
        assert round_trip("ExecutionTicket", doc) == doc


@pytest.mark.parametrize("name", ["completed", "failed"])
def test_result_fixtures_round_trip(name: str) -> None:
    doc = json.loads((FIXTURES / "results" / f"{name}.json").read_text())
    result = model.ExecutionResult.model_validate(doc)
    assert round_trip("ExecutionResult", result.model_dump(mode="json")) == result.model_dump(
        mode="json"
    )


text = st.text(max_size=20)
longs = st.integers(min_value=0, max_value=2**62)
string_maps = st.dictionaries(text, text, max_size=3)


@st.composite
def tickets(draw: st.DrawFn) -> model.ExecutionTicket:
    return model.ExecutionTicket(
        ticket_id=draw(text),
        plan_id=draw(text),
        intent_id=draw(text),
        decision_id=draw(text),
        correlation_id=draw(st.none() | text),
        task_id=draw(text),
        task_type=draw(st.sampled_from(model.TaskType)),
        description=draw(text),
        dependencies=draw(st.lists(text, max_size=3)),
        status=draw(st.sampled_from(model.TicketStatus)),
        priority=draw(st.sampled_from(model.TicketPriority)),
        risk_band=draw(st.sampled_from(model.RiskBand)),
        sla=model.SLA(
            deadline=draw(longs),
            timeout_ms=draw(longs),
            max_retries=draw(st.integers(0, 10)),
        ),
        qos=model.QoS(
            delivery_mode=draw(st.sampled_from(model.DeliveryMode)),
            consistency=draw(st.sampled_from(model.Consistency)),
            durability=draw(st.sampled_from(model.Durability)),
        ),
        parameters=draw(string_maps),
        security_level=draw(st.sampled_from(model.SecurityLevel)),
        created_at=draw(longs),
        started_at=draw(st.none() | longs),
        actual_duration_ms=draw(st.none() | longs),
        retry_count=draw(st.integers(0, 10)),
        error_message=draw(st.none() | text),
        metadata=draw(string_maps),
    )


@settings(max_examples=150)
@given(tickets())
def test_any_ticket_round_trips(ticket: model.ExecutionTicket) -> None:
    doc = ticket.model_dump(mode="json")
    # CANCELLED is ours only: it crosses the wire as FAILED with error_message "cancelled"
    assert model.ExecutionTicket.model_validate(round_trip("ExecutionTicket", doc)) == (
        ticket.on_wire()
    )


@settings(max_examples=100)
@given(
    st.builds(
        model.TelemetryEvent,
        event_type=st.sampled_from(model.TelemetryEventType),
        timestamp=longs,
        metadata=st.dictionaries(
            text, st.none() | text | st.booleans() | st.integers(-(2**31), 2**31 - 1), max_size=4
        ),
    )
)
def test_any_telemetry_event_round_trips(event: model.TelemetryEvent) -> None:
    doc = event.model_dump(mode="json")
    assert round_trip("TelemetryEvent", doc) == doc


# ---------------------------------------------------------------- wire framing


async def test_confluent_frame_and_plain_json_are_both_accepted() -> None:
    decision = parse_decision((DECISIONS / "approve-5-task-dag.json").read_bytes())
    doc = decision.model_dump(mode="json")
    framed = to_confluent(7, encode_avro("ConsolidatedDecision", doc))
    assert split_confluent(framed)[0] == 7
    assert parse_decision(await decode_message("ConsolidatedDecision", framed)) == decision
    assert await decode_message("ConsolidatedDecision", json.dumps(doc).encode()) == doc
    writer = schema_json("ConsolidatedDecision")
    resolved = await decode_message("ConsolidatedDecision", framed, lambda _id: writer)
    assert parse_decision(resolved) == decision


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "message.empty"),
        (b"\x00\x00\x00", "avro.truncated"),
        (b"\x00\x00\x00\x00\x07\xff\xff", "avro.invalid"),
        (b"\x7fgarbage", "message.format"),
        (b"{not json", "json.invalid"),
    ],
)
async def test_bad_records_say_why(raw: bytes, code: str) -> None:
    with pytest.raises(MalformedMessage) as err:
        await decode_message("ConsolidatedDecision", raw)
    assert err.value.issues[0].code == code


# ---------------------------------------------------------------- schemas vs CONTRACTS.md


def contracts_path() -> Path:
    default = Path(__file__).parents[3].parent / "shared" / "design" / "CONTRACTS.md"
    return Path(os.environ.get("CONTRACTS_MD", default))


def contract_tables() -> dict[str, list[tuple[str, str, str]]]:
    """Every '### Title' table of CONTRACTS.md as (field, type, default) rows."""
    text = contracts_path().read_text()
    out = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        title, *lines = section.split("\n")
        rows = [ln for ln in lines if ln.startswith("|")][2:]
        cells = [
            tuple(c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r.strip("| ")))
            for r in rows
        ]
        out[title.strip()] = [(c[0], c[1], c[2]) for c in cells]
    return out


def avro_type_text(node: Any) -> str:
    """Render an Avro type the way CONTRACTS.md writes it."""
    if isinstance(node, list):
        return " | ".join(avro_type_text(n) for n in node)
    if isinstance(node, str):
        return node
    kind = node["type"]
    if kind == "enum":
        return "enum " + "/".join(node["symbols"])
    if kind == "record":
        return f"record {node['name']}"
    if kind == "array":
        return f"array<{avro_type_text(node['items'])}>"
    if kind == "map":
        return f"map<string,{avro_type_text(node['values'])}>"
    if node.get("logicalType") == "timestamp-millis":
        return f"{kind} (timestamp-millis)"
    return str(kind)


def named_records(node: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, list):
        for n in node:
            named_records(n, out)
    elif isinstance(node, dict):
        if node.get("type") == "record":
            out[node["name"]] = node
            for f in node["fields"]:
                named_records(f["type"], out)
        for key in ("items", "values"):
            if key in node:
                named_records(node[key], out)
    return out


def default_text(field: dict[str, Any]) -> str:
    if "default" not in field:
        return "required"
    return json.dumps(field["default"]).replace("null", "null")


@pytest.mark.skipif(not contracts_path().exists(), reason="CONTRACTS.md is not beside the repo")
@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_matches_contracts_field_for_field(name: str) -> None:
    tables = contract_tables()
    schema = schema_json(name)
    records = named_records(schema, {})
    checked = 0
    for title, rows in tables.items():
        head = title.split(" → ")
        top = head[0].split(" (")[0]
        top = "TelemetryEvent" if top == "Flow C telemetry event" else top
        if top != name:
            continue
        record = records[head[-1]] if len(head) > 1 else schema
        fields = record["fields"]
        assert [f["name"] for f in fields] == [r[0] for r in rows], title
        for field, (fname, ftype, fdefault) in zip(fields, rows, strict=True):
            assert avro_type_text(field["type"]) == ftype, f"{title}.{fname}"
            assert default_text(field) == fdefault, f"{title}.{fname}"
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_models_have_exactly_the_schema_fields_in_order(name: str) -> None:
    schema = schema_json(name)
    assert list(MODELS[name].model_fields) == [f["name"] for f in schema["fields"]]

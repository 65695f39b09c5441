"""Decisions built the way the consensus engine builds them, through each bus into Flow C.

Real: the bus (local SQLite file or Kafka on a tansu broker), the service's decoder (JSON, and
Confluent Avro with the writer schema fetched from a registry), DecisionIntake, Operations with
DECISION_HASH_VERIFY on, FlowGateway and a Temporal dev server. The Schema Registry is the
stand-in of tests/servers/schema_registry.py (no real registry can run here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from orchestrator_dynamic.adapters.serialization.avro import to_confluent
from orchestrator_dynamic.adapters.serialization.schema_registry import SchemaRegistryClient
from orchestrator_dynamic.bootstrap import decoder
from orchestrator_dynamic.domain.model import TaskType
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.services.intake import DecisionIntake
from tests.fakes import CapabilityScheduler
from tests.integration.bus.conftest import FAST, BusFactory
from tests.integration.bus.intake_rig import IntakeRig, gather_views
from tests.integration.flow.harness import FlowRig
from tests.servers.schema_registry import schema_registry
from tests.upstream import as_avro, as_json, upstream_decision, upstream_writer_schema

pytestmark = pytest.mark.integration

UPSTREAM_ID = 7
BROKEN_ID = 8


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    broken = {"type": "record", "name": "X", "fields": [{"name": "a", "type": "nothing"}]}
    schemas = {
        UPSTREAM_ID: {"schema": json.dumps(upstream_writer_schema())},
        BROKEN_ID: {"schema": json.dumps(broken)},
    }
    with schema_registry(schemas) as url:
        yield url


async def test_consensus_engine_decisions_run_on_both_paths_and_poison_is_dead_lettered(
    bus_factory: BusFactory, temporal_env: object, registry_url: str
) -> None:
    workers = {"agent-rw": {"read", "write", "analyze", "security"}}
    flow = FlowRig(
        temporal_env.client,  # type: ignore[attr-defined]
        FAST,
        lambda ticket: True,
        scheduler=CapabilityScheduler(workers=workers),
    )
    flow.agent_delay_s = 0
    bus = await bus_factory()
    rig = IntakeRig(bus, flow, verify_hash=True)
    as_json_doc, as_avro_doc, after_doc = (
        upstream_decision(),
        upstream_decision(),
        upstream_decision(),
    )
    records = [
        as_json(as_json_doc),
        to_confluent(BROKEN_ID, b"\x02"),  # a writer schema nobody can parse
        as_avro(as_avro_doc, UPSTREAM_ID),
        to_confluent(99, b"\x02"),  # an id the registry does not know
        as_json(after_doc),
    ]
    for raw in records:
        await bus.publish(rig.topics.decisions, raw)
    registry = SchemaRegistryClient(registry_url)
    sub = await bus.subscribe([rig.topics.decisions], rig.topics.group)
    intake = DecisionIntake(
        sub,
        rig.dead_letters,
        decoder("ConsolidatedDecision", registry),
        rig.operations,
        retry_initial_s=0.05,
    )
    async with flow.worker:
        await rig.drain(intake, len(records))
        assert (intake.handled, intake.dead_lettered) == (3, 2)
        assert await intake.lag() == 0, "every record committed, the poison included"
        ids = [d["decision_id"] for d in (as_json_doc, as_avro_doc, after_doc)]
        views = await gather_views(flow, ids)
    await registry.close()

    for decision_id, view in views.items():
        assert view.status is WorkflowStatus.COMPLETED, (decision_id, view.issues)
        assert len(view.tickets) == 4
    published = [t for t in flow.tickets_published() if t.workflow_id in views]
    executes = {
        t.metadata["original_task_type"] for t in published if t.task_type is TaskType.EXECUTE
    }
    assert executes == {"create", "update"}
    letters = await rig.dead_lettered(2)
    assert {m.value for m in letters} == {records[1], records[3]}
    codes = {m.header("dlq.reason_code") for m in letters}
    assert codes == {"avro.writer_schema", "avro.unknown_schema"}

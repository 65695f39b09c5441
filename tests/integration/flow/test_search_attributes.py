"""Search attributes on a real Temporal dev server: a plan's workflow is found by a visibility
query, and a namespace without the attributes registered still runs every decision.

The session's server registers the attributes on the namespaces it creates at launch, as the
embedded server does; a namespace registered afterwards has none of them, which is what an
external cluster looks like before an operator (or our startup) registers them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf.duration_pb2 import Duration
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from orchestrator_dynamic.flow import search_attributes
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.flow.worker import DATA_CONVERTER
from tests.conftest import decision_doc
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig, now_ms
from tests.integration.flow.test_approval_timeout import time_skipping_server


def unique_decision(name: str) -> dict[str, Any]:
    """A fixture decision under fresh decision, plan and intent ids (the server is shared)."""
    doc = decision_doc(name)
    tag = uuid.uuid4().hex[:8]
    plan = json.loads(doc["cognitive_plan"])
    doc["decision_id"] = f"{doc['decision_id']}-{tag}"
    doc["plan_id"] = plan["plan_id"] = f"{doc['plan_id']}-{tag}"
    doc["intent_id"] = plan["intent_id"] = f"{doc['intent_id']}-{tag}"
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


async def found(client: Client, query: str, within_s: float = 15.0) -> list[str]:
    """Workflow ids matching the query once visibility caught up (it is eventually consistent)."""
    async with asyncio.timeout(within_s):
        while True:
            ids = [w.id async for w in client.list_workflows(query)]
            if ids:
                return ids
            await asyncio.sleep(0.1)


async def fresh_namespace(temporal_env: Any) -> Client:
    """A namespace created after launch: no search attribute of ours is registered on it."""
    name = f"bare-{uuid.uuid4().hex[:8]}"
    await temporal_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    target = temporal_env.client.service_client.config.target_host
    return await Client.connect(target, namespace=name, data_converter=DATA_CONVERTER)


async def registered(client: Client) -> dict[str, int]:
    answer = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(answer.custom_attributes)


@pytest.fixture
async def bare(temporal_env: Any) -> AsyncIterator[FlowRig]:
    rig = FlowRig(await fresh_namespace(temporal_env), FAST, lambda t: True)
    async with rig.worker:
        yield rig


async def test_a_plans_workflow_is_found_by_each_attribute(rig_factory: Any) -> None:
    rig = await rig_factory()
    high = unique_decision("approve-5-task-dag")  # high risk, approve
    medium = unique_decision("conditional-approval")  # medium risk, conditional
    for doc in (high, medium):
        assert (await rig.submit(doc, unique=False)).disposition == "started"
    within = f'TaskQueue = "{rig.task_queue}"'  # the attribute values repeat across tests
    for doc, band in ((high, "high"), (medium, "medium")):
        queries = [
            f'NeuralHivePlanId = "{doc["plan_id"]}"',
            f'NeuralHiveIntentId = "{doc["intent_id"]}"',
            f'{within} AND NeuralHiveRiskBand = "{band}"',
            f'{within} AND NeuralHiveFinalDecision = "{doc["final_decision"]}"',
        ]
        for query in queries:
            assert await found(rig.client, query) == [doc["decision_id"]], query


async def test_startup_registers_the_attributes_a_namespace_lacks(temporal_env: Any) -> None:
    client = await fresh_namespace(temporal_env)
    assert not set(search_attributes.NAMES) & set(await registered(client))
    assert await search_attributes.ensure_registered(client, client.namespace)
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert await registered(client) == dict.fromkeys(search_attributes.NAMES, keyword)
    assert await search_attributes.ensure_registered(client, client.namespace)  # idempotent
    rig = FlowRig(client, FAST, lambda t: True)
    doc = unique_decision("approve-5-task-dag")
    async with rig.worker:
        with capture_logs() as logs:
            await rig.submit(doc, unique=False)
        assert await found(client, f'NeuralHivePlanId = "{doc["plan_id"]}"') == [doc["decision_id"]]
        assert (await rig.finished_view(doc["decision_id"])).status is WorkflowStatus.COMPLETED
    assert not [e for e in logs if e["event"] == "search_attributes_unregistered"]


async def test_a_namespace_without_the_attributes_still_runs_every_decision(
    bare: FlowRig,
) -> None:
    docs = [unique_decision("approve-5-task-dag") for _ in range(2)]
    with capture_logs() as logs:
        for doc in docs:
            assert (await bare.submit(doc, unique=False)).disposition == "started"
    for doc in docs:
        assert (await bare.finished_view(doc["decision_id"])).status is WorkflowStatus.COMPLETED
        described = await bare.client.get_workflow_handle(doc["decision_id"]).describe()
        carried = {pair.key.name for pair in described.typed_search_attributes}
        assert not carried & set(search_attributes.NAMES)
    warnings = [e for e in logs if e["event"] == "search_attributes_unregistered"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning", logs


async def test_startup_that_cannot_register_them_starts_workflows_without(
    temporal_env: Any,
) -> None:
    """The refusal is the server's own: SQL visibility holds a bounded number of Keyword
    attributes per namespace, and this namespace already has them all."""
    client = await fresh_namespace(temporal_env)
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    for i in range(40):
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={f"Other{i:02d}": keyword}
                )
            )
        except Exception:
            break
    else:
        pytest.fail("the server took 40 Keyword attributes: no limit to refuse ours with")
    with capture_logs() as logs:
        searchable = await search_attributes.ensure_registered(client, client.namespace)
    assert searchable is False
    warnings = [e for e in logs if e["event"] == "search_attributes_unregistered"]
    assert len(warnings) == 1 and "NeuralHivePlanId" in warnings[0]["missing"], logs
    rig = FlowRig(client, FAST, lambda t: True)
    rig.gateway = FlowGateway(
        client, rig.task_queue, rig.store, lambda: FAST, now_ms, rig.scheduler, searchable
    )
    doc = unique_decision("approve-5-task-dag")
    async with rig.worker:
        with capture_logs() as logs:
            assert (await rig.submit(doc, unique=False)).disposition == "started"
        assert (await rig.finished_view(doc["decision_id"])).status is WorkflowStatus.COMPLETED
    said = [e for e in logs if e["event"].startswith("search_attributes")]
    assert not said, said  # said once, at startup


async def test_registering_where_the_server_can_neither_list_nor_re_add_them() -> None:
    """Temporal's time-skipping test server: no ListSearchAttributes, and a second add of a known
    attribute is refused as ALREADY_EXISTS (as older clusters do)."""
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(), data_converter=DATA_CONVERTER
    )
    try:
        with capture_logs() as logs:
            for _ in range(2):
                assert await search_attributes.ensure_registered(env.client, "default")
            rig = FlowRig(env.client, FAST, lambda t: True)
            doc = unique_decision("approve-5-task-dag")
            async with rig.worker:
                assert (await rig.submit(doc, unique=False)).disposition == "started"
        said = [e for e in logs if e["event"].startswith("search_attributes_")]
        assert [e["event"] for e in said] == ["search_attributes_registered"], said
        described = await env.client.get_workflow_handle(doc["decision_id"]).describe()
        assert {p.key.name for p in described.typed_search_attributes} >= set(
            search_attributes.NAMES
        )
    finally:
        await env.shutdown()

"""Large plans, small here: a decision started by reference (the stash) and a run that continues
as new every dozen events, with results arriving around each switch; then every run's
history replays."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from orchestrator_dynamic.domain.model import TicketStatus
from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions, WorkflowStatus
from tests.conftest import decision_doc
from tests.integration.flow.conftest import FAST, RigFactory
from tests.integration.flow.harness import FlowRig, now_ms
from tests.integration.flow.test_replay_and_scale import HISTORIES, replayer

pytestmark = pytest.mark.integration

WIDTH, LAYERS = 10, 5
CONTINUING = FlowOptions(
    retry_initial_ms=FAST.retry_initial_ms,
    retry_backoff=FAST.retry_backoff,
    retry_max_ms=FAST.retry_max_ms,
    continue_as_new_events=12,
)


def layered_plan() -> dict[str, Any]:
    """50 tasks in layers of 10, each needing two of the layer before."""
    doc = decision_doc("large-100-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    template = plan["tasks"]
    tasks = []
    for n in range(WIDTH * LAYERS):
        layer, i = divmod(n, WIDTH)
        deps = [f"L{layer - 1}-{(i + k) % WIDTH}" for k in (0, 1)] if layer else []
        tasks.append(
            {**template[n % len(template)], "task_id": f"L{layer}-{i}", "dependencies": deps}
        )
    plan["tasks"] = tasks
    plan["execution_order"] = [t["task_id"] for t in tasks]
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


def by_reference(rig: FlowRig, options: FlowOptions, over_bytes: int) -> None:
    """The rig's gateway, starting any decision over ``over_bytes`` by reference."""
    rig.gateway = FlowGateway(
        rig.client, rig.task_queue, rig.store, lambda: options, now_ms, rig.scheduler,
        by_reference_bytes=over_bytes,
    )  # fmt: skip


async def histories(rig: FlowRig, workflow_id: str) -> list[WorkflowHistory]:
    """Every run's history, first run first (each run names the one it continues)."""
    out: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await rig.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        out.insert(0, history)
        start = history.events[0].workflow_execution_started_event_attributes
        if not start.continued_execution_run_id:
            return out
        run_id = start.continued_execution_run_id


def local_activities(history: WorkflowHistory) -> list[str]:
    """The local activities a history recorded, by type, in order."""
    out = []
    for event in history.events:
        details = event.marker_recorded_event_attributes.details
        if event.HasField("marker_recorded_event_attributes") and "data" in details:
            out.append(json.loads(details["data"].payloads[0].data)["activity_type"])
    return out


async def test_a_plan_started_by_reference_continues_as_new_and_loses_no_result(
    rig_factory: RigFactory,
) -> None:
    rig: FlowRig = await rig_factory(options=CONTINUING)
    by_reference(rig, CONTINUING, 1_000)
    rig.agent_delay_s = 0.005  # results stream in while runs switch
    submission = await rig.submit(layered_plan())
    view = await rig.finished_view(submission.workflow_id, timeout_s=120)
    assert view.status == "COMPLETED", view.reason
    assert len(view.tickets) == WIDTH * LAYERS
    assert {t.status for t in view.tickets} == {TicketStatus.COMPLETED.value}
    # A lost result would have timed its ticket out and dispatched it again.
    dispatched = Counter(t.ticket_id for t in rig.tickets_published() if t.status == "PENDING")
    assert set(dispatched.values()) == {1}
    runs = await histories(rig, submission.workflow_id)
    assert len(runs) >= 3
    start = runs[0].events[0].workflow_execution_started_event_attributes
    first_input = json.loads(start.input.payloads[0].data)
    assert first_input["decision"]["cognitive_plan"] is None
    assert first_input["decision_ref"]["key"] == f"decision/{submission.workflow_id}"
    assert "flow_stash_write" in local_activities(runs[0])  # the state went to the stash
    assert not rig.store.data[Collection.FLOW_STASH]  # and is dropped once the plan is done
    for index, history in enumerate(runs):
        result = await replayer().replay_workflow(history)
        assert result.replay_failure is None, index
        if os.environ.get("RECORD_HISTORIES"):  # as in test_replay_and_scale
            name = f"large-plan-by-reference-run{index + 1}.json"
            (HISTORIES / name).write_text(json.dumps(history.to_json_dict()))


async def test_a_small_decision_still_starts_inside_its_input(rig_factory: RigFactory) -> None:
    rig: FlowRig = await rig_factory(options=CONTINUING)
    by_reference(rig, FlowOptions(), 100_000)
    submission = await rig.submit(decision_doc("approve-5-task-dag"))
    view = await rig.finished_view(submission.workflow_id)
    assert view.status == "COMPLETED", view.reason
    history = await rig.client.get_workflow_handle(submission.workflow_id).fetch_history()
    start = history.events[0].workflow_execution_started_event_attributes
    first_input = json.loads(start.input.payloads[0].data)
    assert first_input["decision"]["cognitive_plan"]
    assert first_input.get("decision_ref") is None
    assert Collection.FLOW_STASH not in rig.store.data


async def test_an_approved_plan_started_by_reference_generates_its_tickets_in_the_stash(
    rig_factory: RigFactory,
) -> None:
    rig: FlowRig = await rig_factory(options=CONTINUING)
    by_reference(rig, CONTINUING, 1_000)
    submission = await rig.submit(decision_doc("review-required"))
    await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)
    await rig.gateway.decide(submission.workflow_id, True, "alice", "fine")
    view = await rig.finished_view(submission.workflow_id)
    assert view.status == "COMPLETED", view.reason
    assert view.tickets
    first = (await histories(rig, submission.workflow_id))[0]
    assert "c2_generate_stashed" in local_activities(first)
    assert not rig.store.data[Collection.FLOW_STASH]

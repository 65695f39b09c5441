"""Flow C publishes one allocation outcome per ticket once it has ended (real Temporal)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator_dynamic.flow.payloads import FlowOptions
from tests.conftest import decision_bytes
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.integration


async def test_every_ticket_of_a_finished_plan_has_an_outcome(temporal_env: Any) -> None:
    rig = FlowRig(temporal_env.client, FAST, lambda t: True)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("approve-5-task-dag"))
        view = await rig.finished_view(submission.workflow_id)
    outcomes = [json.loads(r.value) for r in rig.bus.topic("ml.allocation_outcomes")]
    by_ticket = {o["ticket_id"]: o for o in outcomes}
    assert set(by_ticket) == {t.ticket_id for t in view.tickets}
    for ticket in view.tickets:
        outcome = by_ticket[ticket.ticket_id]
        assert outcome["worker_id"] == ticket.worker_id
        assert outcome["success"] is True
        assert outcome["actual_duration_ms"] is not None
        assert outcome["workflow_id"] == submission.workflow_id


async def test_a_silent_workers_slot_is_released_when_the_workflow_ends(
    temporal_env: Any,
) -> None:
    options = FlowOptions(
        min_timeout_ms=100, timeout_buffer=0.01, default_timeout_ms=200,
        retry_initial_ms=10, retry_max_ms=20,
    )  # fmt: skip
    rig = FlowRig(temporal_env.client, options, lambda t: None if t.task_id == "l1" else True)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("low-risk-lowercase-types"))
        view = await rig.finished_view(submission.workflow_id)
    l1 = next(t for t in view.tickets if t.task_id == "l1")
    assert l1.error_message is not None and "timed out" in l1.error_message
    assert (l1.ticket_id, l1.worker_id) in rig.scheduler.released
    failed = json.loads(rig.bus.topic("ml.allocation_outcomes")[-1].value)
    assert any(
        json.loads(r.value)["ticket_id"] == l1.ticket_id and not json.loads(r.value)["success"]
        for r in rig.bus.topic("ml.allocation_outcomes")
    ), failed

"""Determinism and scale: replaying recorded histories, and a 1,000-task plan's history size."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestrator_dynamic.flow.worker import DATA_CONVERTER, SANDBOX
from orchestrator_dynamic.flow.workflow import FlowCWorkflow
from tests.conftest import decision_bytes, decision_doc
from tests.integration.flow.conftest import RigFactory

pytestmark = pytest.mark.integration

HISTORIES = Path(__file__).parents[2] / "fixtures" / "histories"
# Temporal's own limits: 51,200 events or 50 MB per history; warn at 10,240 events.
EVENT_LIMIT = 51_200
SIZE_LIMIT = 50 * 1024 * 1024


def replayer() -> Replayer:
    return Replayer(
        workflows=[FlowCWorkflow], data_converter=DATA_CONVERTER, workflow_runner=SANDBOX
    )


def fail_t4(ticket: Any) -> bool:
    return bool(ticket.task_id != "t4-canary")


@pytest.mark.parametrize(
    ("fixture", "behaviour"),
    [
        ("approve-5-task-dag", None),
        ("approve-5-task-dag", fail_t4),
        ("invalid-cycle", None),
        ("critical-security-3-task", None),
    ],
)
async def test_fresh_histories_replay_deterministically(
    rig_factory: RigFactory, fixture: str, behaviour: Any
) -> None:
    rig = await rig_factory(behaviour or (lambda t: True))
    submission = await rig.submit(decision_bytes(fixture))
    await rig.finished_view(submission.workflow_id)
    history = await rig.client.get_workflow_handle(submission.workflow_id).fetch_history()
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None
    if os.environ.get("RECORD_HISTORIES"):  # refresh tests/fixtures/histories on purpose only
        # A suffix keeps the histories of an earlier workflow shape beside the new ones.
        suffix = os.environ.get("RECORD_HISTORIES_SUFFIX", "")
        name = f"{fixture}{'-failing' if behaviour else ''}{suffix}.json"
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / name).write_text(json.dumps(history.to_json_dict()))


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_histories_still_replay(path: Path) -> None:
    """Histories recorded from the fixtures by an earlier version: a change to the workflow that
    would break running workflows fails here (use workflow.patched() for such changes)."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_bytes()))  # noqa: ASYNC240
    result = await replayer().replay_workflow(history)
    assert result.replay_failure is None


def thousand_task_plan() -> dict[str, Any]:
    doc = decision_doc("large-100-task-dag")
    plan = json.loads(doc["cognitive_plan"])
    template = plan["tasks"]
    tasks = []
    for layer in range(10):
        for i in range(100):
            base = template[(layer * 10 + i) % len(template)]
            deps = [f"L{layer - 1}-{(i + k) % 100}" for k in (0, 1)] if layer else []
            tasks.append({**base, "task_id": f"L{layer}-{i}", "dependencies": deps})
    plan["tasks"] = tasks
    plan["execution_order"] = [t["task_id"] for t in tasks]
    doc["cognitive_plan"] = json.dumps(plan)
    return doc


async def test_thousand_task_plan_stays_within_history_limits(rig_factory: RigFactory) -> None:
    rig = await rig_factory()
    rig.agent_delay_s = 0
    submission = await rig.submit(thousand_task_plan())
    view = await rig.finished_view(submission.workflow_id, timeout_s=240)
    assert view.status == "COMPLETED"
    assert len(view.tickets) == 1_000
    history = await rig.client.get_workflow_handle(submission.workflow_id).fetch_history()
    size = len(json.dumps(history.to_json_dict()))
    print(f"1,000-task plan: {len(history.events)} events, {size / 1e6:.1f} MB of history")
    assert len(history.events) < EVENT_LIMIT // 4, len(history.events)
    assert size < SIZE_LIMIT // 4, size

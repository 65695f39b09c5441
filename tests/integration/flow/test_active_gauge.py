"""orchestration_workflows_active comes from the engine's visibility, not from in-process counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from orchestrator_dynamic.flow.payloads import WorkflowStatus
from tests.conftest import decision_doc
from tests.integration.flow.conftest import RigFactory

pytestmark = pytest.mark.integration


async def _eventually(probe: Callable[[], Awaitable[bool]], within_s: float = 20) -> None:
    async with asyncio.timeout(within_s):
        while True:  # visibility is eventually consistent: poll it
            if await probe():
                return
            await asyncio.sleep(0.1)


async def test_a_waiting_workflow_counts_as_running_until_it_ends(rig_factory: RigFactory) -> None:
    rig = await rig_factory()  # its own task queue: nothing else of the session is counted
    assert await rig.gateway.count_running() == 0
    submission = await rig.submit(decision_doc("review-required"))
    await rig.wait_status(submission.workflow_id, WorkflowStatus.AWAITING_APPROVAL)

    async def counted() -> bool:
        return await rig.gateway.count_running() == 1

    await _eventually(counted)
    await rig.gateway.decide(submission.workflow_id, False, "test", "not today")
    view = await rig.finished_view(submission.workflow_id)
    assert view.status is WorkflowStatus.REJECTED

    async def gone() -> bool:
        return await rig.gateway.count_running() == 0

    await _eventually(gone)

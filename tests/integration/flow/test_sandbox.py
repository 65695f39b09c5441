"""The workflow sandbox guards our own workflow code: only the domain, the payloads and the retry
board are passed through, so a module of ours holding a workflow is re-imported into the sandbox
for every run and a clock read in it is refused, instead of running and breaking a later replay.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

from orchestrator_dynamic.flow.worker import SANDBOX
from orchestrator_dynamic.flow.workflow import FlowCWorkflow

pytestmark = pytest.mark.integration

# A workflow module of ours, as flow/workflow.py is, that reads the clock.
PROBE_NAME = "orchestrator_dynamic.flow._clock_probe"
PROBE = """
from datetime import datetime

from temporalio import workflow


@workflow.defn(name="ClockProbe")
class ClockProbe:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
"""


class _ProbeSource(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the probe module from source, inside the sandbox as outside (nothing is written
    into the package)."""

    def find_spec(
        self, name: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(name, self) if name == PROBE_NAME else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(PROBE, "<clock probe>", "exec"), module.__dict__)


@pytest.fixture
def probe_module() -> Iterator[ModuleType]:
    finder = _ProbeSource()
    sys.meta_path.insert(0, finder)
    try:
        yield importlib.import_module(PROBE_NAME)
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop(PROBE_NAME, None)


def test_our_workflow_module_is_not_passed_through() -> None:
    passed = SANDBOX.restrictions.passthrough_modules
    name = FlowCWorkflow.__module__
    parents = {name[:i] for i in range(len(name)) if name[i] == "."}
    assert not ({name, *parents} & passed), "the workflow module would skip the sandbox"
    assert "orchestrator_dynamic.flow.retrying" in passed  # its board is read by the query


async def test_a_clock_read_in_workflow_code_is_refused(
    temporal_env: Any, probe_module: ModuleType
) -> None:
    task_queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    client = temporal_env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[probe_module.ClockProbe],
        workflow_runner=SANDBOX,
        # Fail the workflow (not only its task, which would retry for ever) so the test sees it.
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],
    ):
        handle = await client.start_workflow(
            "ClockProbe",
            id=f"clock-probe-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "datetime.datetime.now" in str(failure.value.cause)

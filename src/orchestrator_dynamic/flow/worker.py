"""The Temporal worker that runs Flow C, and the client's data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.workflow import FlowCWorkflow

DATA_CONVERTER = pydantic_data_converter

# Our own modules and pydantic are deterministic and side-effect free at import: passing them
# through avoids re-importing them into the sandbox for every workflow run (a large CPU cost).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "orchestrator_dynamic", "pydantic", "pydantic_core", "structlog", "opentelemetry"
    )
)


async def connect(target: str, namespace: str) -> Client:
    """A client whose workflows and activities (and workers built on it) carry trace context."""
    return await Client.connect(
        target,
        namespace=namespace,
        data_converter=DATA_CONVERTER,
        interceptors=[TracingInterceptor()],
    )


def build_worker(
    client: Client, task_queue: str, activities: FlowActivities, max_concurrent: int = 200
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[FlowCWorkflow],
        activities=activities.all(),
        workflow_runner=SANDBOX,
        max_concurrent_activities=max_concurrent,
        max_concurrent_local_activities=max_concurrent,
    )

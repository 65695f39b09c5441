"""The Temporal worker that runs Flow C, and the client's data converter."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from orchestrator_dynamic.flow.activities import FlowActivities
from orchestrator_dynamic.flow.workflow import FlowCWorkflow


@functools.lru_cache(maxsize=1024)
def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_hint)


class _SharedAdaptersJSON(PydanticJSONPlainPayloadConverter):
    """The pydantic converter's JSON, with one TypeAdapter per type for the whole process.

    The engine builds a payload converter for every workflow run, and the stock one caches its
    adapters per instance: each run would build the schemas of FlowInput, the step outputs and
    the signals again (a few ms of CPU a plan). The payloads are the same either way."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            adapter = _adapter(type_hint if type_hint is not None else Any)
        except TypeError:  # an unhashable hint, or one pydantic refuses: the stock path says so
            return super().from_payload(payload, type_hint)
        return adapter.validate_json(payload.data)


class PayloadConverter(CompositePayloadConverter):
    """temporalio's pydantic payload converter (JSON through pydantic), adapters shared."""

    def __init__(self) -> None:
        json = _SharedAdaptersJSON()
        super().__init__(
            *(
                json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)

# Passed through (imported once, outside the sandbox) only what workflow code reads and what
# must be one instance for the whole process: the pure domain, the payload dataclasses, the retry
# board (its process-wide record is read by the workflow's query), pydantic (the data converter)
# and opentelemetry (the tracing interceptor's context). Everything else, flow/workflow.py first,
# is re-imported into the sandbox for each run, so a clock read, a random number or I/O added to
# workflow code is refused at once instead of running and breaking a later replay.
PASSED_THROUGH = (
    "orchestrator_dynamic.domain",
    "orchestrator_dynamic.flow.payloads",
    "orchestrator_dynamic.flow.carried",
    "orchestrator_dynamic.flow.retrying",
    "pydantic",
    "pydantic_core",
    "opentelemetry",
)
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
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

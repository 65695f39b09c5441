"""Flow C activities: thin adapters from Temporal to FlowSteps, one call each.

Errors that retrying cannot fix become non-retryable ApplicationErrors; DependencyDown (bus,
store, registry down) is left retryable so Temporal keeps trying with back-off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.flow.payloads import (
    AllocateInput,
    AllocateOutput,
    ConsolidateInput,
    ConsolidateOutput,
    GenerateInput,
    PublishInput,
    TelemetryInput,
    ValidateInput,
    ValidateOutput,
)
from orchestrator_dynamic.services.flow_steps import FlowSteps

T = TypeVar("T")


async def _guard(call: Callable[[], Awaitable[T]]) -> T:
    """Run one step with the workflow's ids bound to every log line it writes; errors that a
    retry cannot fix become non-retryable."""
    info = activity.info()
    with structlog.contextvars.bound_contextvars(
        workflow_id=info.workflow_id, activity=info.activity_type, attempt=info.attempt
    ):
        try:
            return await call()
        except (MalformedMessage, PlanRefused) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc


class FlowActivities:
    def __init__(self, steps: FlowSteps) -> None:
        self._steps = steps

    @activity.defn(name="c1_validate")
    async def validate(self, inp: ValidateInput) -> ValidateOutput:
        return await _guard(lambda: self._steps.validate(inp))

    @activity.defn(name="c2_generate_tickets")
    async def generate_tickets(self, inp: GenerateInput) -> list[ExecutionTicket]:
        workflow_id = activity.info().workflow_id or ""
        return await _guard(lambda: self._steps.generate_checked(inp, workflow_id))

    @activity.defn(name="c3_allocate")
    async def allocate(self, inp: AllocateInput) -> AllocateOutput:
        return await _guard(lambda: self._steps.allocate(inp))

    @activity.defn(name="c4_publish_tickets")
    async def publish_tickets(self, inp: PublishInput) -> None:
        await _guard(lambda: self._steps.publish(inp))

    @activity.defn(name="c5_consolidate")
    async def consolidate(self, inp: ConsolidateInput) -> ConsolidateOutput:
        return await _guard(lambda: self._steps.consolidate(inp))

    @activity.defn(name="c6_emit_telemetry")
    async def emit_telemetry(self, inp: TelemetryInput) -> None:
        await _guard(lambda: self._steps.emit(inp))

    def all(self) -> list[Callable[..., object]]:
        return [
            self.validate,
            self.generate_tickets,
            self.allocate,
            self.publish_tickets,
            self.consolidate,
            self.emit_telemetry,
        ]

"""Flow C activities: thin adapters from Temporal to FlowSteps, one call each.

What a failure does is decided once, by ``domain.errors.handling``: an error retrying cannot fix
fails the step at once (a non-retryable ApplicationError naming it); a dependency outage stays
retryable, so Temporal retries it with back-off without limit, and every such attempt is counted
and written on the retry board (``flow/retrying.py``) so `status` and a gauge show the wait; an
unexpected exception is retried up to ``unexpected_max_attempts`` attempts, then fails the step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from orchestrator_dynamic.domain.errors import Handling, dependency_of, handling
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.flow.dispatch_record import ACTIVITY_PART
from orchestrator_dynamic.flow.payloads import (
    AllocateInput,
    AllocateOutput,
    ConsolidateInput,
    ConsolidateOutput,
    GenerateInput,
    PublishInput,
    StashChunk,
    StashDrop,
    StashRef,
    TelemetryInput,
    ValidateInput,
    ValidateOutput,
)
from orchestrator_dynamic.flow.plan_ref import Stash
from orchestrator_dynamic.flow.retrying import BOARD, RetryBoard
from orchestrator_dynamic.flow.steps import FlowSteps
from orchestrator_dynamic.observability import metrics

T = TypeVar("T")
log = structlog.get_logger(__name__)


class _Guard:
    """Runs one step with the workflow's ids bound to every log line it writes, and turns what
    it raises into the failure Temporal should act on."""

    def __init__(self, board: RetryBoard, unexpected_max_attempts: int) -> None:
        self._board = board
        self._max_attempts = unexpected_max_attempts

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id, activity=info.activity_type, attempt=info.attempt
        ):
            try:
                result = await call()
            except Exception as exc:
                raise self._failure(exc, info) from exc
            self._board.cleared(info.workflow_id or "", info.workflow_run_id or "")
            return result

    def _failure(self, exc: Exception, info: activity.Info) -> ApplicationError:
        kind, name = handling(exc), type(exc).__name__
        workflow_id, run_id = info.workflow_id or "", info.workflow_run_id or ""
        # The step the error came from: C4 inside C3's activity is C4 to the board and metrics,
        # and to the workflow, which names the failed step after it.
        part = ACTIVITY_PART.get() or info.activity_type
        named = () if part == info.activity_type else ({"activity": part},)
        if kind is Handling.WAIT:
            metrics.ACTIVITY_RETRIES.labels(part, name).inc()
            waiting = self._board.failed(
                workflow_id,
                run_id,
                part,
                dependency=dependency_of(exc) or name,
                error_type=name,
                reason=str(exc),
                attempt=info.attempt,
                first_scheduled_ms=int(info.scheduled_time.timestamp() * 1000),
            )
            log.warning("activity_waiting", reason=str(exc), waiting=waiting.message)
            return ApplicationError(str(exc), waiting.as_dict(), type=name)
        if kind is Handling.BOUNDED and info.attempt < self._max_attempts:
            metrics.ACTIVITY_RETRIES.labels(part, name).inc()
            log.warning("activity_unexpected_error", error=f"{name}: {exc}", exc_info=exc)
            return ApplicationError(str(exc), *named, type=name)
        self._board.cleared(workflow_id, run_id)
        if kind is Handling.BOUNDED:
            message = f"{exc} (unexpected, after {info.attempt} attempts)"
            log.error("activity_failed", error=f"{name}: {message}", exc_info=exc)
        else:
            message = str(exc)
            log.warning("activity_failed", error=f"{name}: {exc}")
        return ApplicationError(message, *named, type=name, non_retryable=True)


class FlowActivities:
    def __init__(
        self,
        steps: FlowSteps,
        *,
        unexpected_max_attempts: int = 5,
        stuck_after_s: float | None = None,
        board: RetryBoard = BOARD,
        stash: Stash | None = None,
    ) -> None:
        self._steps = steps
        self._stash = stash or Stash(steps.deps.store, steps.deps.clock)
        self._guard = _Guard(board, unexpected_max_attempts)
        if stuck_after_s is not None:  # the board is per process, as the gauge it feeds
            board.stuck_after_s = stuck_after_s

    @activity.defn(name="c1_validate")
    async def validate(self, inp: ValidateInput) -> ValidateOutput:
        return await self._guard(lambda: self._validate(inp))

    async def _validate(self, inp: ValidateInput) -> ValidateOutput:
        if inp.decision_ref is None:
            return await self._steps.validate(inp)
        # A large plan: the decision is read from the stash, and its tickets go back there.
        inp.decision = await self._stash.decision(inp.decision_ref)
        outcome = await self._steps.validate(inp)
        if outcome.tickets is not None:
            outcome.tickets_ref = await self._stash.put_tickets(inp.workflow_id, outcome.tickets)
            outcome.tickets = None
        return outcome

    @activity.defn(name="c2_generate_tickets")
    async def generate_tickets(self, inp: GenerateInput) -> list[ExecutionTicket]:
        workflow_id = activity.info().workflow_id or ""
        return await self._guard(lambda: self._steps.generate_checked(inp, workflow_id))

    @activity.defn(name="c2_generate_stashed")
    async def generate_stashed(self, inp: GenerateInput) -> StashRef:
        """C2 of a large plan (after an approval): the decision and the tickets in the stash."""
        workflow_id = activity.info().workflow_id or ""
        return await self._guard(lambda: self._generate_stashed(inp, workflow_id))

    async def _generate_stashed(self, inp: GenerateInput, workflow_id: str) -> StashRef:
        if inp.decision_ref is not None:
            inp.decision = await self._stash.decision(inp.decision_ref)
        tickets = await self._steps.generate_checked(inp, workflow_id)
        return await self._stash.put_tickets(workflow_id, tickets)

    @activity.defn(name="flow_stash_read")
    async def stash_read(self, chunk: StashChunk) -> str:
        return await self._guard(lambda: self._stash.read(chunk))

    @activity.defn(name="flow_stash_drop")
    async def stash_drop(self, drop: StashDrop) -> None:
        await self._guard(lambda: self._stash.drop(drop))

    @activity.defn(name="flow_stash_write")
    async def stash_write(self, chunk: StashChunk) -> None:
        await self._guard(lambda: self._stash.write(chunk))

    @activity.defn(name="c3_allocate")
    async def allocate(self, inp: AllocateInput) -> AllocateOutput:
        return await self._guard(lambda: self._steps.allocate(inp))

    @activity.defn(name="c4_publish_tickets")
    async def publish_tickets(self, inp: PublishInput) -> None:
        await self._guard(lambda: self._steps.publish(inp))

    @activity.defn(name="c5_consolidate")
    async def consolidate(self, inp: ConsolidateInput) -> ConsolidateOutput:
        return await self._guard(lambda: self._steps.consolidate(inp))

    @activity.defn(name="c6_emit_telemetry")
    async def emit_telemetry(self, inp: TelemetryInput) -> None:
        await self._guard(lambda: self._emit(inp))

    async def _emit(self, inp: TelemetryInput) -> None:
        if inp.sidecars and inp.tickets:  # a large plan's final records, made whole again
            inp.tickets = await self._stash.restore_metadata(inp.tickets, inp.sidecars)
        await self._steps.emit(inp)

    def all(self) -> list[Callable[..., object]]:
        return [
            self.validate,
            self.generate_tickets,
            self.allocate,
            self.publish_tickets,
            self.consolidate,
            self.emit_telemetry,
            self.generate_stashed,
            self.stash_read,
            self.stash_write,
            self.stash_drop,
        ]

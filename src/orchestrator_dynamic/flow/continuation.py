"""Workflow code for large plans: reading stashed text, and continuing as new with the state.

A run's history grows with every dispatch and result; past a threshold (FlowOptions, from
FLOW_CONTINUE_AS_NEW_EVENTS / FLOW_CONTINUE_AS_NEW_BYTES) counted from where the run began, the
workflow stashes what it carries (``Carried`` in flow/carried.py: the plan's execution state, the tickets'
histories, and the few things C5 reports) and continues as new with a reference to it. The next
run reads it back and goes on with the dispatch loop. Deterministic: the thresholds compare the
history's own length and size, which replay sees as they were.

Signals (results, cancel, approval) are addressed to the workflow id, so they reach whichever
run is current. A result that arrives while the state is being stashed is applied before the
switch (the switch is then retried later); one that arrives after the continue-as-new command
makes the engine refuse that workflow task, and the replayed task sees it in the inbox.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from orchestrator_dynamic.domain.model import ExecutionTicket
    from orchestrator_dynamic.flow.activities import FlowActivities
    from orchestrator_dynamic.flow.payloads import FlowOptions, StashChunk, StashDrop, StashRef
    from orchestrator_dynamic.flow.plan_ref import split, tickets_of

_TIMEOUT = timedelta(seconds=30)
# The store may be down for a while: wait for it, as every step does.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


class Budget:
    """Where this run's history began, to tell when it has grown enough to continue as new."""

    def __init__(self, options: FlowOptions) -> None:
        info = workflow.info()
        self._events = options.continue_as_new_events
        self._bytes = options.continue_as_new_bytes
        self._events_at = info.get_current_history_length()
        self._bytes_at = info.get_current_history_size()

    def spent(self) -> bool:
        info = workflow.info()
        grown_events = info.get_current_history_length() - self._events_at
        grown_bytes = info.get_current_history_size() - self._bytes_at
        return bool(
            (self._events and grown_events >= self._events)
            or (self._bytes and grown_bytes >= self._bytes)
        )


async def read(ref: StashRef) -> str:
    """A stash's text, one chunk per activity. Activities, not local ones: a local activity's
    result travels in the workflow task's completion, which the engine refuses over 4 MB, and
    a large plan's chunks would all be in one; an activity's arrives in an event of its own."""
    parts = []
    for index in range(ref.chunks):
        parts.append(
            await workflow.execute_activity_method(
                FlowActivities.stash_read,
                StashChunk(ref.key, index),
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
            )
        )
    return "".join(parts)


async def read_tickets(ref: StashRef) -> list[ExecutionTicket]:
    return tickets_of(await read(ref))


async def drop(refs: list[StashRef]) -> None:
    """The stashes of a finished workflow, deleted (its history holds what it read)."""
    await workflow.execute_local_activity_method(
        FlowActivities.stash_drop,
        StashDrop(refs, workflow.info().workflow_id),
        start_to_close_timeout=_TIMEOUT,
        retry_policy=_RETRY,
    )


async def write(key: str, text: str) -> StashRef:
    parts = split(text)
    for index, part in enumerate(parts):
        await workflow.execute_local_activity_method(
            FlowActivities.stash_write,
            StashChunk(key, index, part, workflow.info().workflow_id),
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
    return StashRef(key, len(parts))

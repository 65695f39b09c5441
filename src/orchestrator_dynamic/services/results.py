"""Worker results are untrusted input: each one is sorted before anything reaches a workflow.

Both channels (the results topic and ``POST /tickets/{id}/result``) go through ``ResultDesk``,
which says what became of each result and counts it in ``orchestration_results_total``:

* ``delivered``: signalled to the workflow that owns the ticket, whose state machine applies it
  only if the ticket is RUNNING there (a duplicate or a result for an attempt that already timed
  out changes nothing: the pure state ignores results for tickets that are not running);
* ``foreign_agent``: delivered too, so the workflow records it as FOREIGN_RESULT, never applied;
* ``progress``: a RUNNING report, which changes nothing: not signalled at all;
* ``ticket_finished``: the stored ticket is already final (COMPLETED, FAILED, CANCELLED,
  COMPENSATING, COMPENSATED): ignored, so a finished ticket can never change;
* ``workflow_ended``: the ticket is known but its workflow has ended: ignored;
* ``unknown_ticket``: no ticket and no workflow owns it: dead-lettered from the bus, 404 over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog
from prometheus_client import Counter

from orchestrator_dynamic.domain.errors import NotFound, Unauthorized
from orchestrator_dynamic.domain.model import ExecutionResult, ResultStatus, TicketStatus
from orchestrator_dynamic.domain.ports import Collection, Store, WorkflowEngine

log = structlog.get_logger(__name__)

RESULTS = Counter(
    "orchestration_results_total",
    "Worker results by channel (bus, api) and what became of them",
    ["channel", "disposition"],
)

FINAL = frozenset(
    {
        TicketStatus.COMPLETED.value,
        TicketStatus.FAILED.value,
        TicketStatus.CANCELLED.value,
        TicketStatus.COMPENSATING.value,
        TicketStatus.COMPENSATED.value,
    }
)


class Disposition(StrEnum):
    DELIVERED = "delivered"
    FOREIGN_AGENT = "foreign_agent"
    PROGRESS = "progress"
    TICKET_FINISHED = "ticket_finished"
    WORKFLOW_ENDED = "workflow_ended"
    UNKNOWN_TICKET = "unknown_ticket"

    @property
    def applied(self) -> bool:
        """Reached the workflow (which may still find it stale)."""
        return self in (Disposition.DELIVERED, Disposition.FOREIGN_AGENT)


@dataclass(frozen=True)
class Outcome:
    disposition: Disposition
    detail: str


class ResultDesk:
    def __init__(self, engine: WorkflowEngine, store: Store) -> None:
        self._engine = engine
        self._store = store

    async def take(
        self, result: ExecutionResult, channel: str, worker_id: str | None = None
    ) -> Outcome:
        """Sort one result and deliver it if it may change anything.

        ``worker_id`` is set for a caller authenticated as one worker (a ``worker`` token): the
        result must then be that worker's, for a ticket allocated to it (Unauthorized if not)."""
        ticket = await self._store.get(Collection.TICKETS, result.ticket_id)
        if worker_id is not None:
            _check_worker(result, ticket, worker_id)
        outcome = await self._sort(result, ticket)
        RESULTS.labels(channel, outcome.disposition.value).inc()
        if not outcome.disposition.applied:
            log.info(
                "result_not_applied",
                ticket_id=result.ticket_id,
                agent_id=result.agent_id,
                status=result.status.value,
                disposition=outcome.disposition.value,
                channel=channel,
            )
        return outcome

    async def _sort(self, result: ExecutionResult, ticket: dict[str, object] | None) -> Outcome:
        if ticket is not None and ticket.get("status") in FINAL:
            return Outcome(
                Disposition.TICKET_FINISHED,
                f"ticket {result.ticket_id} is already {ticket['status']}: result ignored",
            )
        if result.status is ResultStatus.RUNNING:
            return Outcome(Disposition.PROGRESS, "progress report: nothing changes")
        if not await self._engine.deliver(result):
            if ticket is not None:
                return Outcome(
                    Disposition.WORKFLOW_ENDED,
                    f"the workflow of ticket {result.ticket_id} has ended: result ignored",
                )
            return Outcome(
                Disposition.UNKNOWN_TICKET,
                f"unknown ticket_id {result.ticket_id}: no workflow owns it",
            )
        owner = (ticket or {}).get("worker_id")
        if owner and owner != result.agent_id:
            return Outcome(
                Disposition.FOREIGN_AGENT,
                f"agent {result.agent_id!r} is not the allocated worker {owner!r}: recorded, "
                "not applied",
            )
        return Outcome(Disposition.DELIVERED, "delivered to the owning workflow")


def _check_worker(
    result: ExecutionResult, ticket: dict[str, object] | None, worker_id: str
) -> None:
    if result.agent_id != worker_id:
        raise Unauthorized(
            f"this token reports for worker {worker_id!r} only, not agent_id {result.agent_id!r}"
        )
    if ticket is None:
        raise NotFound(f"no ticket {result.ticket_id}")
    if ticket.get("worker_id") != worker_id:
        raise Unauthorized(f"ticket {result.ticket_id} is not allocated to worker {worker_id!r}")

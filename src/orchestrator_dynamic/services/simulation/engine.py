"""The discrete-event loop: plans arrive, the real C1/C2 code makes their tickets, the real
``ExecutionState`` decides what is ready (dependencies, in-flight limit, urgency and aging,
back-off, SLA timeouts, retries), the real scheduler places each dispatch, workers run attempts
for the drawn durations, and a failed plan is compensated by the real saga code. The loop body
mirrors ``FlowCWorkflow._execute`` step for step; only the clock is virtual (epoch ms) and
results arrive as events instead of signals. The capacity ledger (made by ``ledger``, see
placement.py) runs on that clock too. Policies (OPA) are not evaluated, and a plan that
waits for a human is taken as approved at once (counted in ``approval_gated``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestrator_dynamic.domain.consolidation import consolidate
from orchestrator_dynamic.domain.errors import MalformedMessage, PlanRefused
from orchestrator_dynamic.domain.execution import (
    CAPACITY_WAIT_MS,
    Backoff,
    ExecutionState,
    Transition,
    TransitionKind,
    compensation_tickets,
    settle_compensated,
)
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    FinalDecision,
    ResultStatus,
    TicketStatus,
)
from orchestrator_dynamic.domain.ports import Scheduler
from orchestrator_dynamic.domain.rules import SlaPolicy
from orchestrator_dynamic.domain.scoring import PriorityWeights
from orchestrator_dynamic.services.planning import PlanningConfig, plan_decision
from orchestrator_dynamic.services.scheduling import (
    all_able_full,
    release_ended,
    ticket_namespace,
)
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import Placement, SimConfig
from orchestrator_dynamic.services.simulation.fleet import (
    Attempt,
    Fleet,
    WorkerState,
    can_run,
    fleet_for,
)
from orchestrator_dynamic.services.simulation.inputs import PlanArrival, SimWorker
from orchestrator_dynamic.services.simulation.placement import (
    LedgerFactory,
    PredictedScheduler,
    real_scheduler,
)
from orchestrator_dynamic.services.simulation.report import PlanOutcome, Recorder, SimReport

DEFAULT = SimConfig()
# Same-moment events in the workflow's order: results first, then timers, then new plans.
_FINISH, _WAKE, _ARRIVE = 0, 1, 2


@dataclass(frozen=True)
class TraceEntry:
    """One ticket transition, as the workflow records it in the ticket's history."""

    at_ms: int
    decision_id: str
    task_id: str
    event: str
    worker_id: str | None
    detail: str


@dataclass
class PlanRun:
    index: int
    arrival: PlanArrival
    plan: ExecutionState
    band: str
    state: ExecutionState | None = None
    comp: ExecutionState | None = None
    dispatches: dict[str, int] = field(default_factory=dict)
    wakes: set[int] = field(default_factory=set)


class Simulation:
    def __init__(
        self,
        arrivals: Sequence[PlanArrival],
        workers: Sequence[SimWorker],
        behaviour: Behaviour,
        config: SimConfig = DEFAULT,
        *,
        ledger: LedgerFactory,
        trace: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._arrivals = arrivals
        self._config = config
        self._behaviour = behaviour
        self.fleet = Fleet(fleet_for(workers, config))
        self._now = 0
        # The ledger's clock is the virtual one (in seconds, as its TTLs): holders expire and
        # reservations age in simulated time, as the entries' reserved_at_ms (= the dispatch's
        # virtual now) do.
        cache = ledger(lambda: self._now / 1000)
        tolerance = config.score_tolerance
        self._scheduler: Scheduler
        if config.placement is Placement.PREDICTED:
            self._scheduler = PredictedScheduler(self.fleet, cache, behaviour.predictor, tolerance)
        else:
            intelligent = config.placement is Placement.INTELLIGENT
            self._scheduler = real_scheduler(self.fleet, cache, intelligent, tolerance)
        self._planning = PlanningConfig(
            SlaPolicy(config.min_timeout_ms, config.timeout_buffer),
            PriorityWeights(config.risk_weight, config.qos_weight, config.sla_weight),
        )
        self._events: list[tuple[int, int, int, object]] = []
        self._seq = 0
        self._runs: list[PlanRun] = []
        self._recorder = Recorder()
        self.trace: list[TraceEntry] | None = [] if trace else None
        self._progress = progress
        self._last = 0  # the last moment anything happened (stale timers aside)
        self._predicts = config.placement is Placement.PREDICTED

    # ------------------------------------------------------------ the loop

    async def run(self) -> SimReport:
        for i, arrival in enumerate(self._arrivals):
            self._push(arrival.arrival_ms, _ARRIVE, i)
        start = self._arrivals[0].arrival_ms if self._arrivals else 0
        settled: dict[int, PlanRun] = {}
        while self._events:
            at, _, kind, payload = heapq.heappop(self._events)
            self._now = at
            if kind == _ARRIVE:
                await self._arrive(payload)  # type: ignore[arg-type]
            elif kind == _WAKE:
                run = self._runs[payload]  # type: ignore[call-overload]
                run.wakes.discard(at)
                await self._advance(run, at)
            else:
                if (run := await self._finish(*payload)) is not None:  # type: ignore[misc]
                    settled[run.index] = run
                following = self._events[0] if self._events else None
                if following is None or following[0] != at or following[2] != _FINISH:
                    # Results of one moment are drained together, as the workflow drains the
                    # signals that arrived before its next task; then each plan reacts once.
                    for run in settled.values():
                        await self._advance(run, at)
                    settled.clear()
        return self._recorder.report(self.fleet, start, self._last)

    def _push(self, at: int, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, kind, payload))

    # ------------------------------------------------------------ C1 + C2

    async def _arrive(self, index: int) -> None:
        arrival = self._arrivals[index]
        now = arrival.arrival_ms
        self._last = max(self._last, now)
        decision = arrival.decision
        if decision.final_decision is FinalDecision.REJECT:
            self._recorder.plan_ended(PlanOutcome.skipped(decision.decision_id))
            return self._tick()
        try:
            planned = plan_decision(decision, now, self._planning)
        except (PlanRefused, MalformedMessage) as exc:
            self._recorder.plan_ended(PlanOutcome.refused(decision.decision_id, str(exc)))
            return self._tick()
        gated = (
            decision.final_decision is FinalDecision.REVIEW_REQUIRED
            or decision.requires_human_review
            or planned.plan.requires_approval
            or planned.plan.is_destructive
            or bool(planned.plan.destructive_tasks)
        )
        if gated:
            self._recorder.approval_gated += 1
        tickets = self._with_retry_limit(planned.tickets)
        state = self._state(tickets)
        run = PlanRun(len(self._runs), arrival, state, planned.plan.risk_band.value, state)
        self._runs.append(run)
        await self._advance(run, now)
        return None

    def _with_retry_limit(self, tickets: list[ExecutionTicket]) -> list[ExecutionTicket]:
        if self._config.retries is None:
            return tickets
        return [
            t.model_copy(
                update={"sla": t.sla.model_copy(update={"max_retries": self._config.retries})}
            )
            for t in tickets
        ]

    def _state(self, tickets: list[ExecutionTicket]) -> ExecutionState:
        c = self._config
        return ExecutionState.of(
            tickets,
            max_in_flight=c.max_parallel,
            backoff=Backoff(c.retry_initial_ms, c.retry_backoff, c.retry_max_ms),
            weights=self._planning.weights,
            aging_per_minute=c.aging,
        )

    # ------------------------------------------------------------ C3 + C4 (the workflow's loop)

    async def _advance(self, run: PlanRun, now: int) -> None:
        while run.state is not None:
            state = run.state
            if state.finished():
                await self._end_phase(run, now)
                continue
            expired = state.expire(now)
            for transition in expired:
                self._record(run, state, transition)
            if expired and state.finished():
                continue
            batch = state.ready(now)
            if batch:
                await self._dispatch(run, state, batch, now)
                continue
            wake = state.next_wakeup(now)
            if wake is not None and wake not in run.wakes:
                run.wakes.add(wake)
                self._push(wake, _WAKE, run.index)
            return

    async def _dispatch(
        self, run: PlanRun, state: ExecutionState, batch: list[ExecutionTicket], now: int
    ) -> None:
        for ticket in batch:
            allocation = await self._scheduler.allocate(ticket, now, weights=state.weights)
            if allocation.worker_id is None and all_able_full(allocation):
                # As C3 and the workflow: not dispatched (no SLA timer), asked again later.
                state.not_before[ticket.ticket_id] = now + CAPACITY_WAIT_MS
                self._recorder.capacity_waits += 1
                continue
            metadata = {
                "allocation_method": allocation.method,
                "priority_score": f"{allocation.priority_score:.4f}",
            }
            if allocation.worker_id:
                metadata["worker_id"] = allocation.worker_id
            ready_at = state.ready_since.get(ticket.ticket_id, now)
            dispatched = state.dispatch(ticket.ticket_id, now, metadata)
            kind = TransitionKind.DISPATCHED
            self._record(
                run,
                state,
                Transition(ticket.ticket_id, kind, now, allocation.method, allocation.worker_id),
            )
            number = run.dispatches.get(ticket.ticket_id, 0) + 1
            run.dispatches[ticket.ticket_id] = number
            attempt = Attempt(
                plan=run.index,
                ticket_id=ticket.ticket_id,
                number=number,
                needs=(
                    frozenset(dispatched.required_capabilities),
                    ticket_namespace(dispatched),
                    dispatched.security_level,
                ),
                band=run.band,
                ready_at=ready_at,
                dispatched_at=now,
                allocated_to=allocation.worker_id,
                # Only the predicted-duration-aware placement reads it (and it costs a prediction).
                predicted_ms=self._behaviour.predicted_ms(dispatched) if self._predicts else 0.0,
            )
            self._route(attempt, now)

    def _route(self, attempt: Attempt, now: int) -> None:
        if attempt.allocated_to is None:
            # Unassigned only when no worker the scheduler found can run it (full ones make it
            # wait instead); a fleet worker that can run it after all pulls it from the bus.
            for worker in self.fleet.workers.values():
                if self.fleet.has_room(worker) and can_run(worker.profile, attempt.needs):
                    self._start(worker, attempt, now)
                    return
            self.fleet.to_backlog(attempt)
            return
        worker = self.fleet.workers[attempt.allocated_to]
        if self.fleet.has_room(worker) and not worker.queue:
            self._start(worker, attempt, now)
        else:
            self.fleet.enqueue(worker, attempt)

    def _start(self, worker: WorkerState, attempt: Attempt, now: int) -> None:
        self.fleet.start(worker, attempt, now)
        self._recorder.waited(attempt.band, now - attempt.ready_at)
        run = self._runs[attempt.plan]
        ticket = self._ticket(run, attempt.ticket_id)
        duration, failed = self._behaviour.attempt(
            ticket, attempt.number, worker.sim.speed, worker.sim.failure_rate
        )
        self._push(now + duration, _FINISH, (worker.profile.worker_id, attempt, duration, failed))

    # ------------------------------------------------------------ results (the gateway's part)

    async def _finish(
        self, worker_id: str, attempt: Attempt, duration: int, failed: bool
    ) -> PlanRun | None:
        now = self._last = self._now
        worker = self.fleet.workers[worker_id]
        self.fleet.finish(worker, attempt, now)
        # The freed slot takes the next waiting work before the plan reacts to the result,
        # as a worker pulls its next message while the result travels.
        while self.fleet.has_room(worker):
            following = self.fleet.next_for(worker)
            if following is None:
                break
            self._start(worker, following, now)
        run = self._runs[attempt.plan]
        if run.state is None:
            return None  # the plan ended (a late result of an abandoned attempt)
        result = _result(attempt.ticket_id, worker_id, duration, failed, now)
        state = self._phase_of(run, attempt.ticket_id)
        owner = state.tickets[attempt.ticket_id].metadata.get("worker_id")
        if owner and owner == worker_id:  # only the allocated worker's answer frees its slot
            await self._scheduler.release(attempt.ticket_id, worker_id)
        transition = state.apply(result, now)
        if transition is not None:
            self._record(run, state, transition)
        return run

    def _phase_of(self, run: PlanRun, ticket_id: str) -> ExecutionState:
        if run.comp is not None and ticket_id in run.comp.tickets:
            return run.comp
        return run.plan

    def _ticket(self, run: PlanRun, ticket_id: str) -> ExecutionTicket:
        return self._phase_of(run, ticket_id).tickets[ticket_id]

    # ------------------------------------------------------------ end of a phase, C5

    async def _end_phase(self, run: PlanRun, now: int) -> None:
        state = run.state
        assert state is not None
        if state is run.plan:
            if state.succeeded():
                return await self._end(run, "COMPLETED", now)
            self._cancel_unrun(run, state, now)
            comps = compensation_tickets(state, now)
            if comps:
                run.comp = run.state = self._state(comps)
                return None
            return await self._end(run, "FAILED", now)
        if not state.succeeded():
            self._cancel_unrun(run, state, now)
        settle_compensated(run.plan, state)
        return await self._end(run, "FAILED", now)

    def _cancel_unrun(self, run: PlanRun, state: ExecutionState, now: int) -> None:
        failed = [t.task_id for t in state.tickets.values() if t.status is TicketStatus.FAILED]
        reason = f"not run: {', '.join(failed)} failed" if failed else "not run"
        for ticket_id in state.cancel_unrun(reason):
            self._record(run, state, Transition(ticket_id, TransitionKind.CANCELLED, now, reason))

    async def _end(self, run: PlanRun, status: str, now: int) -> None:
        run.state = None
        self._last = max(self._last, now)
        plan_tickets = list(run.plan.tickets.values())
        comp_tickets = list(run.comp.tickets.values()) if run.comp else []
        await release_ended(self._scheduler, [*plan_tickets, *comp_tickets])
        timed_out = run.plan.timed_out() | (run.comp.timed_out() if run.comp else set())
        summary = consolidate(
            plan_tickets,
            comp_tickets,
            run.arrival.arrival_ms,
            now,
            expect_success=status == "COMPLETED",
            timed_out=timed_out,
        )
        outcome = PlanOutcome(
            decision_id=run.arrival.decision.decision_id,
            status=status,
            band=run.band,
            makespan_ms=now - run.arrival.arrival_ms,
            sla_violations=summary.sla_violations,
            retries=summary.total_retries + sum(t.retry_count for t in comp_tickets),
            compensations=len(comp_tickets),
        )
        self._recorder.plan_ended(outcome)
        self._tick()

    def _tick(self) -> None:
        if self._progress is not None:
            self._progress(1)

    def _record(self, run: PlanRun, state: ExecutionState, transition: Transition) -> None:
        if transition.kind is TransitionKind.RETRY_SCHEDULED:
            self._recorder.retry_events += 1
        if self.trace is None:
            return
        ticket = state.tickets[transition.ticket_id]
        self.trace.append(
            TraceEntry(
                transition.at_ms,
                run.arrival.decision.decision_id,
                ticket.task_id,
                transition.kind.value,
                transition.worker_id,
                transition.detail,
            )
        )


def _result(
    ticket_id: str, worker_id: str, duration: int, failed: bool, now: int
) -> ExecutionResult:
    return ExecutionResult(
        ticket_id=ticket_id,
        status=ResultStatus.FAILED if failed else ResultStatus.COMPLETED,
        result=ExecutionResultPayload(success=not failed),
        error_message="simulated failure" if failed else None,
        actual_duration_ms=duration,
        agent_id=worker_id,
        timestamp=now,
    )


async def simulate(
    arrivals: Sequence[PlanArrival],
    workers: Sequence[SimWorker],
    behaviour: Behaviour,
    config: SimConfig = DEFAULT,
    progress: Callable[[int], None] | None = None,
    *,
    ledger: LedgerFactory,
) -> SimReport:
    """One run of one setting, on a fresh ledger from ``ledger``."""
    sim = Simulation(arrivals, workers, behaviour, config, ledger=ledger, progress=progress)
    return await sim.run()

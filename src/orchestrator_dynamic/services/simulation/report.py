"""What one simulation run reports: plans by outcome, SLA violations, makespan percentiles,
queue wait by risk band, worker utilisation, retries and compensations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator_dynamic.services.simulation.fleet import Fleet

BANDS = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class PlanOutcome:
    decision_id: str
    status: str  # COMPLETED, FAILED, REFUSED, SKIPPED
    band: str = ""
    makespan_ms: int = 0
    sla_violations: int = 0  # tickets (compensations included), as C5 counts them
    retries: int = 0
    compensations: int = 0
    reason: str = ""

    @classmethod
    def refused(cls, decision_id: str, reason: str) -> PlanOutcome:
        return cls(decision_id, "REFUSED", reason=reason)

    @classmethod
    def skipped(cls, decision_id: str) -> PlanOutcome:
        return cls(decision_id, "SKIPPED", reason="final_decision reject")


def percentile(values: list[int], q: float) -> int | None:
    """Nearest-rank percentile (``q`` in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-int(q * 1000) * len(ordered) // 1000)))
    return ordered[rank - 1]


@dataclass
class SimReport:
    plans: int
    completed: int
    failed: int
    refused: int
    skipped: int
    approval_gated: int
    plans_sla_violated: int
    sla_violation_pct: float  # of the plans that ran
    ticket_sla_violations: int
    makespan_p50_ms: int | None  # completed plans, arrival to last ticket
    makespan_p95_ms: int | None
    queue_wait_p95_ms: dict[str, int | None]  # by risk band: ready -> started on a worker
    utilisation: float  # busy slot-time / (slots x simulated span), whole fleet
    worker_utilisation: dict[str, float]
    retries: int
    compensations: int
    plans_compensated: int
    simulated_span_ms: int
    dead_lettered: int = 0
    # C3 answers "every able worker is full": the ticket asked again CAPACITY_WAIT_MS later.
    capacity_waits: int = 0
    refusals: list[str] = field(default_factory=list)  # the first few reasons

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recorder:
    """Collects outcomes while the loop runs; ``report`` sums them up."""

    def __init__(self) -> None:
        self.outcomes: list[PlanOutcome] = []
        self.waits: dict[str, list[int]] = defaultdict(list)
        self.approval_gated = 0
        self.retry_events = 0
        self.capacity_waits = 0

    def plan_ended(self, outcome: PlanOutcome) -> None:
        self.outcomes.append(outcome)

    def waited(self, band: str, wait_ms: int) -> None:
        self.waits[band].append(wait_ms)

    def report(self, fleet: Fleet, start_ms: int, end_ms: int) -> SimReport:
        by = defaultdict(list)
        for o in self.outcomes:
            by[o.status].append(o)
        ran = by["COMPLETED"] + by["FAILED"]
        violated = sum(1 for o in ran if o.sla_violations)
        span = max(1, end_ms - start_ms)
        per_worker = {}
        busy = slots = 0
        for worker_id, w in sorted(fleet.workers.items()):
            w.account(end_ms)
            capacity = w.profile.max_concurrent_tasks
            per_worker[worker_id] = round(w.busy_ms / (capacity * span), 4)
            busy += w.busy_ms
            slots += capacity
        makespans = [o.makespan_ms for o in by["COMPLETED"]]
        return SimReport(
            plans=len(self.outcomes),
            completed=len(by["COMPLETED"]),
            failed=len(by["FAILED"]),
            refused=len(by["REFUSED"]),
            skipped=len(by["SKIPPED"]),
            approval_gated=self.approval_gated,
            plans_sla_violated=violated,
            sla_violation_pct=round(100 * violated / len(ran), 2) if ran else 0.0,
            ticket_sla_violations=sum(o.sla_violations for o in ran),
            makespan_p50_ms=percentile(makespans, 0.5),
            makespan_p95_ms=percentile(makespans, 0.95),
            queue_wait_p95_ms={
                b: percentile(self.waits[b], 0.95) for b in BANDS if b in self.waits
            },
            utilisation=round(busy / (slots * span), 4) if slots else 0.0,
            worker_utilisation=per_worker,
            retries=sum(o.retries for o in ran),
            compensations=sum(o.compensations for o in ran),
            plans_compensated=sum(1 for o in ran if o.compensations),
            simulated_span_ms=end_ms - start_ms,
            capacity_waits=self.capacity_waits,
            refusals=[f"{o.decision_id}: {o.reason}" for o in by["REFUSED"][:5]],
        )

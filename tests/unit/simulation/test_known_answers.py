"""Known answers of the simulator: serialisation, capacity, placement, retries, compensation,
SLA timeouts, and reproducible draws."""

from __future__ import annotations

import itertools

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import Placement, SimConfig
from orchestrator_dynamic.services.simulation.engine import Simulation, TraceEntry
from orchestrator_dynamic.services.simulation.inputs import PlanArrival, SimWorker, load_history
from orchestrator_dynamic.services.simulation.report import SimReport
from tests.conftest import FIXTURES
from tests.unit.simulation.plans import T0, arrival, independent, plan_doc, worker

# Timeouts far beyond anything these tests wait: queueing alone never fails an attempt.
PATIENT = SimConfig(min_timeout_ms=10 * 3_600_000)


async def run(
    arrivals: list[PlanArrival],
    workers: list[SimWorker],
    config: SimConfig = PATIENT,
    behaviour: Behaviour | None = None,
) -> tuple[SimReport, list[TraceEntry]]:
    sim = Simulation(
        arrivals, workers, behaviour or Behaviour(), config, ledger=MemoryCache, trace=True
    )
    report = await sim.run()
    assert sim.trace is not None
    return report, sim.trace


def intervals(trace: list[TraceEntry]) -> list[tuple[int, int]]:
    started: dict[tuple[str, str], int] = {}
    out = []
    for e in trace:
        key = (e.decision_id, e.task_id)
        if e.event == "COMPLETED":
            out.append((started[key], e.at_ms))
        elif e.event == "DISPATCHED":
            started[key] = e.at_ms
    return sorted(out)


async def test_one_worker_of_capacity_one_serialises_every_plan() -> None:
    plans = [independent(i, 3, 60_000) for i in range(3)]
    report, trace = await run(plans, [worker("solo", capacity=1)])
    assert report.completed == 3
    # Nine minutes of work, one slot: done at nine minutes, fully busy, never two at once.
    assert max(end for _, end in intervals(trace)) - T0 == 9 * 60_000
    assert report.utilisation == 1.0
    completions = sorted(e.at_ms for e in trace if e.event == "COMPLETED")
    assert [b - a for a, b in itertools.pairwise(completions)] == [60_000] * 8
    # The last plan waited for the eight tasks before its last one.
    assert report.makespan_p95_ms == 9 * 60_000


async def test_doubling_capacity_halves_the_makespan_of_independent_tasks() -> None:
    plan = [independent(0, 8, 60_000)]
    two, _ = await run(plan, [worker("w", capacity=2)])
    four, _ = await run(plan, [worker("w", capacity=4)])
    assert two.makespan_p50_ms == 4 * 60_000
    assert four.makespan_p50_ms == 2 * 60_000


async def test_the_in_flight_limit_of_a_plan_holds_its_tickets_back() -> None:
    plan = [independent(0, 4, 60_000)]
    limited, _ = await run(plan, [worker("w", capacity=8)], SimConfig(max_parallel=1))
    assert limited.makespan_p50_ms == 4 * 60_000


def dispatches_by_worker(trace: list[TraceEntry]) -> dict[str | None, int]:
    out: dict[str | None, int] = {}
    for e in trace:
        if e.event == "DISPATCHED":
            out[e.worker_id] = out.get(e.worker_id, 0) + 1
    return out


async def test_round_robin_and_intelligent_differ_where_health_differs() -> None:
    plans = [independent(i, 2, 60_000, T0 + i * 120_000) for i in range(4)]
    fleet = [worker("a-degraded", health=Health.DEGRADED, speed=0.5), worker("b-healthy")]
    smart, smart_trace = await run(plans, fleet)
    rr_config = SimConfig(min_timeout_ms=PATIENT.min_timeout_ms, placement=Placement.ROUND_ROBIN)
    rotated, rr_trace = await run(plans, fleet, rr_config)
    # Intelligent sends everything to the healthy worker; rotation splits it evenly, and the
    # slow degraded worker's half takes twice as long.
    assert dispatches_by_worker(smart_trace) == {"b-healthy": 8}
    assert dispatches_by_worker(rr_trace) == {"a-degraded": 4, "b-healthy": 4}
    assert smart.makespan_p95_ms == 60_000
    assert rotated.makespan_p95_ms == 120_000
    # Same health: both policies' plans take as long.
    even = [worker("a"), worker("b")]
    assert (await run(plans, even))[0].makespan_p95_ms == 60_000
    assert (await run(plans, even, rr_config))[0].makespan_p95_ms == 60_000


async def test_a_failing_worker_exhausts_the_retries_then_the_plan_is_compensated() -> None:
    doc = plan_doc(0, [("a", [], 1_000), ("b", ["a"], 1_000)], band="high")

    class FailB(Behaviour):
        def attempt(
            self, ticket: ExecutionTicket, attempt: int, speed: float, rate: float | None
        ) -> tuple[int, bool]:
            return 1_000, ticket.task_id == "b"

    report, trace = await run([arrival(doc)], [worker("w")], behaviour=FailB())
    assert report.failed == 1 and report.completed == 0
    assert report.retries == 3  # the high band's limit
    assert report.compensations == 1 and report.plans_compensated == 1
    events = [(e.task_id, e.event) for e in trace]
    assert events.count(("b", "RETRY_SCHEDULED")) == 3
    assert events[-2:] == [("a:compensate", "DISPATCHED"), ("a:compensate", "COMPLETED")]
    # The retry limit is a setting too.
    limited = SimConfig(min_timeout_ms=PATIENT.min_timeout_ms, retries=0)
    assert (await run([arrival(doc)], [worker("w")], limited, FailB()))[0].retries == 0


class Fixed(Behaviour):
    """Every attempt takes ``ms`` and succeeds."""

    def __init__(self, ms: int) -> None:
        super().__init__()
        self.ms = ms

    def attempt(
        self, ticket: ExecutionTicket, attempt: int, speed: float, rate: float | None
    ) -> tuple[int, bool]:
        return self.ms, False


async def test_a_full_fleet_re_asks_c3_every_two_seconds_and_never_dispatches_unassigned() -> None:
    # One slot, two 61 s tasks, a 90 s timeout: t1 is asked at 0, 2, ..., 60 s (31 times, all
    # full), not dispatched (no SLA timer runs), and dispatched at 62 s, the first ask after the
    # slot freed at 61 s; its attempt ends within its timeout, so nothing is retried.
    plan = [independent(0, 2, 30_000)]
    slow = SimConfig(min_timeout_ms=90_000, timeout_buffer=1.0)
    report, trace = await run(plan, [worker("w", capacity=1)], slow, Fixed(61_000))
    dispatched = [(e.task_id, e.at_ms - T0, e.worker_id) for e in trace if e.event == "DISPATCHED"]
    assert dispatched == [("t0", 0, "w"), ("t1", 62_000, "w")]
    assert report.capacity_waits == 31
    assert report.retries == 0
    assert report.queue_wait_p95_ms["medium"] == 62_000
    # The deadline runs from C2's creation, not from the dispatch: t1 ends past it.
    assert report.ticket_sla_violations == 1


async def test_no_free_worker_waits_for_capacity_unless_placed_by_prediction() -> None:
    plans = [independent(0, 3, 60_000)]
    fleet = [worker("a", capacity=1), worker("b", capacity=1)]
    report, smart = await run(plans, fleet)
    assert None not in dispatches_by_worker(smart)  # never published unassigned
    assert [e.at_ms - T0 for e in smart if e.event == "DISPATCHED"] == [0, 0, 60_000]
    assert report.makespan_p50_ms == 120_000 and report.capacity_waits == 30
    predicted = SimConfig(min_timeout_ms=PATIENT.min_timeout_ms, placement=Placement.PREDICTED)
    report, trace = await run(plans, fleet, predicted)
    assert None not in dispatches_by_worker(trace)
    assert [e.detail for e in trace if e.event == "DISPATCHED"][-1] == "predicted"
    assert report.makespan_p50_ms == 120_000 and report.capacity_waits == 0


async def test_a_ticket_no_worker_can_run_is_still_dispatched_unassigned() -> None:
    tester = WorkerProfile("qa", frozenset({"testing"}), max_concurrent_tasks=1)
    report, trace = await run([independent(0, 1, 1_000)], [SimWorker(tester)])
    first = next(e for e in trace if e.event == "DISPATCHED")
    assert (first.task_id, first.at_ms, first.worker_id) == ("t0", T0, None)
    assert report.capacity_waits == 0 and report.completed == 0


async def test_draws_follow_the_history_and_the_seed() -> None:
    history = load_history(FIXTURES / "ml" / "ticket-history-sample.jsonl")
    plans = [independent(i, 5, 60_000, T0 + i * 60_000) for i in range(20)]
    fleet = [worker("a"), worker("b")]
    first, _ = await run(plans, fleet, behaviour=Behaviour(history, seed=1))
    again, _ = await run(plans, fleet, behaviour=Behaviour(history, seed=1))
    other, _ = await run(plans, fleet, behaviour=Behaviour(history, seed=2))
    assert first == again
    assert first != other
    # Drawn, not the estimate: durations spread around it.
    assert first.makespan_p50_ms != 60_000
    # The predictor gives one duration per type and estimate: with failures ruled out, the
    # seed changes nothing.
    sure = [worker("a", failure_rate=0.0), worker("b", failure_rate=0.0)]
    predicted = Behaviour(history, seed=1, source="predictor")
    assert (await run(plans, sure, behaviour=predicted))[0] == (
        await run(plans, sure, behaviour=Behaviour(history, seed=9, source="predictor"))
    )[0]


async def test_a_worker_that_always_fails_fails_the_plans_it_runs() -> None:
    plans = [independent(0, 1, 1_000)]
    report, _ = await run(plans, [worker("bad", failure_rate=1.0)])
    assert report.failed == 1 and report.retries == 2  # medium band: 2 retries


async def test_refused_rejected_and_expired_plans_are_counted_not_run() -> None:
    good = independent(0, 1)
    expired = plan_doc(1, [("a", [], 1_000)])
    expired["valid_until"] = T0 - 1
    rejected = plan_doc(2, [("a", [], 1_000)])
    rejected["final_decision"] = "reject"
    cyclic = plan_doc(3, [("a", ["b"], 1_000), ("b", ["a"], 1_000)])
    plans = [good, arrival(expired), arrival(rejected), arrival(cyclic)]
    report, _ = await run(plans, [worker("w")])
    assert (report.completed, report.refused, report.skipped) == (1, 2, 1)
    assert any("plan.expired" in r for r in report.refusals)
    assert any("dag.cycle" in r for r in report.refusals)


async def test_fleet_size_and_capacity_settings_reshape_the_workers_file() -> None:
    plans = [independent(0, 8, 60_000)]
    one = [worker("w", capacity=1)]
    grown, trace = await run(
        plans, one, SimConfig(min_timeout_ms=PATIENT.min_timeout_ms, workers=4)
    )
    # four placed, four waiting for capacity and placed as the copies free up
    assert dispatches_by_worker(trace) == {"w": 2, "w#2": 2, "w#3": 2, "w#4": 2}
    assert grown.makespan_p50_ms == 2 * 60_000
    wider, _ = await run(plans, one, SimConfig(min_timeout_ms=PATIENT.min_timeout_ms, capacity=8))
    assert wider.makespan_p50_ms == 60_000

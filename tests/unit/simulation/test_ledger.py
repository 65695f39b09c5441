"""The simulator on the real capacity ledger: its clock is the virtual one, the deadline-aware
choice among close workers reads loads in simulated time, and the predicted policy's over-limit
reservations go through the ledger and are all given back."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.domain.ports import Reservation, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight, WorkerLoad
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import Placement, SimConfig
from orchestrator_dynamic.services.simulation.engine import Simulation, TraceEntry
from orchestrator_dynamic.services.simulation.inputs import PlanArrival, SimWorker
from orchestrator_dynamic.services.simulation.placement import NO_LIMIT
from tests.unit.simulation.plans import T0, arrival, independent, plan_doc, worker

HOUR = 3_600_000


class Recording(MemoryCache):
    """The embedded ledger, noting for every reservation its clock, entry, offers and answer."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.reserved: list[tuple[float, InFlight, tuple[SlotOffer, ...], Reservation]] = []

    async def reserve(
        self,
        ticket_id: str,
        offers: Sequence[SlotOffer],
        entry: InFlight,
        *,
        read: int,
        ttl_seconds: float,
    ) -> Reservation:
        res = await super().reserve(ticket_id, offers, entry, read=read, ttl_seconds=ttl_seconds)
        self.reserved.append((self._clock(), entry, tuple(offers), res))
        return res


async def run(
    arrivals: list[PlanArrival], workers: list[SimWorker], config: SimConfig
) -> tuple[Recording, list[TraceEntry]]:
    made: list[Recording] = []

    def ledger(clock: Callable[[], float]) -> Recording:
        made.append(Recording(clock))
        return made[-1]

    sim = Simulation(arrivals, workers, Behaviour(), config, ledger=ledger, trace=True)
    await sim.run()
    assert sim.trace is not None and len(made) == 1
    return made[0], sim.trace


def dispatched(trace: list[TraceEntry]) -> dict[str, str | None]:
    return {e.task_id: e.worker_id for e in trace if e.event == "DISPATCHED"}


async def test_the_ledger_clock_is_the_virtual_clock() -> None:
    plans = [independent(i, 2, 60_000, T0 + i * 30 * HOUR) for i in range(2)]
    ledger, _ = await run(plans, [worker("w")], SimConfig())
    # Every reservation was made at the dispatch's virtual moment, in the ledger's seconds too
    # (days apart here, in well under a second of wall time).
    assert [(round(at * 1000), e.reserved_at_ms) for at, e, _, _ in ledger.reserved] == [
        (T0, T0),
        (T0, T0),
        (T0 + 30 * HOUR, T0 + 30 * HOUR),
        (T0 + 30 * HOUR, T0 + 30 * HOUR),
    ]
    assert (await ledger.loads(["w"]))["w"].count == 0  # every slot given back


async def test_the_deadline_picks_among_close_workers_by_their_virtual_load() -> None:
    # "a" scores a little better than "b". A 30-minute task is on "a" when a 1-minute one with
    # a 3-minute window arrives a minute later: the backlog per slot on "a" (29 min / 2) would
    # make it late, so within the tolerance C3 prefers "b"; with no tolerance "a" keeps it.
    long = arrival(plan_doc(0, [("long", [], 30 * 60_000)]), T0)
    short = arrival(plan_doc(1, [("short", [], 60_000)], T0 + 60_000), T0 + 60_000)
    fleet = [worker("a", capacity=2), worker("b", capacity=2, success_rate=0.94)]
    _, close = await run([long, short], fleet, SimConfig())
    assert dispatched(close) == {"long": "a", "short": "b"}
    _, strict = await run([long, short], fleet, SimConfig(score_tolerance=0.0))
    assert dispatched(strict) == {"long": "a", "short": "a"}


async def test_predicted_placement_reserves_over_the_limit_in_the_ledger() -> None:
    plans = [independent(0, 3, 60_000)]
    fleet = [worker("a", capacity=1), worker("b", capacity=1)]
    config = SimConfig(min_timeout_ms=10 * HOUR, placement=Placement.PREDICTED)
    ledger, trace = await run(plans, fleet, config)
    over = [(o, r) for _, _, o, r in ledger.reserved if o and o[0].limit == NO_LIMIT]
    # The third ticket found both full and was held on "a" anyway, with its predicted duration.
    assert [(o[0].worker_id, r.worker_id) for o, r in over] == [("a", "a")]
    assert dispatched(trace)["t2"] == "a"
    # Released with its result, as any reservation: nothing is left held.
    assert await ledger.loads(["a", "b"]) == {"a": WorkerLoad(), "b": WorkerLoad()}

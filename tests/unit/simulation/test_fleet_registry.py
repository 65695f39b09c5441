"""The simulated fleet as the scheduler's registry: a worker registering mid-run is discovered,
and a new profile of a known worker replaces the old one in discovery."""

from __future__ import annotations

from orchestrator_dynamic.domain.scoring import WorkerProfile
from orchestrator_dynamic.services.simulation.fleet import Fleet
from orchestrator_dynamic.services.simulation.inputs import SimWorker


async def test_a_worker_registering_mid_run_is_discovered() -> None:
    fleet = Fleet([SimWorker(WorkerProfile("w-1", frozenset({"testing"})))])
    assert [w.worker_id for w in await fleet.discover(["deployment"])] == []
    await fleet.register(WorkerProfile("w-2", frozenset({"deployment"})))
    assert [w.worker_id for w in await fleet.discover(["deployment"])] == ["w-2"]
    await fleet.register(WorkerProfile("w-1", frozenset({"testing", "deployment"})))
    assert [w.worker_id for w in await fleet.discover(["deployment"])] == ["w-1", "w-2"]
    assert fleet.workers["w-1"].sim.profile.capabilities == {"testing", "deployment"}

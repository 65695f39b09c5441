"""The simulator against the real thing: for fixtures with deterministic workers, the dispatch
order (with the worker each ticket went to), the retries and the compensation order of a Flow C
run on the Temporal dev server equal those of the simulator's virtual-time run."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from temporalio.client import Client

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.model import ExecutionTicket, SecurityLevel, TicketStatus
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.flow.payloads import WorkflowStatus
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from orchestrator_dynamic.services.simulation.behaviour import Behaviour
from orchestrator_dynamic.services.simulation.config import Placement, SimConfig
from orchestrator_dynamic.services.simulation.engine import Simulation
from orchestrator_dynamic.services.simulation.inputs import PlanArrival, SimWorker
from tests.conftest import decision_doc
from tests.integration.flow.conftest import FAST
from tests.integration.flow.harness import FlowRig

pytestmark = pytest.mark.integration

FLEET = [
    WorkerProfile(
        "agent-all",
        frozenset({"code_generation", "testing", "validation", "deployment"}),
        security_level=SecurityLevel.RESTRICTED,
        telemetry=WorkerTelemetry(0.9, 0.5, 0.5),
    ),
    WorkerProfile(
        "agent-build",
        frozenset({"code_generation"}),
        telemetry=WorkerTelemetry(0.99, 0.8, 0.9),
    ),
    WorkerProfile(
        "agent-qa",
        frozenset({"testing", "validation", "deployment"}),
        health=Health.DEGRADED,
        security_level=SecurityLevel.RESTRICTED,
        telemetry=WorkerTelemetry(0.97, 0.7, 0.8),
    ),
]
# One slot on the only worker for testing and validation: t2/t3 (or c/l siblings) compete for it.
FULL_FLEET = [dataclasses.replace(FLEET[0], max_concurrent_tasks=1), FLEET[1]]
SIM_CONFIG = SimConfig(
    retry_initial_ms=FAST.retry_initial_ms,
    retry_backoff=FAST.retry_backoff,
    retry_max_ms=FAST.retry_max_ms,
)
Dispatch = tuple[str, int, str | None]  # task id, retry count, worker


class Scripted(Behaviour):
    """Every attempt takes 10 ms; the named tasks always fail."""

    def __init__(self, failing: set[str]) -> None:
        super().__init__()
        self._failing = failing

    def attempt(
        self, ticket: ExecutionTicket, attempt: int, speed: float, rate: float | None
    ) -> tuple[int, bool]:
        return 10, ticket.task_id in self._failing


async def real_run(
    client: Client,
    name: str,
    failing: set[str],
    intelligent: bool = True,
    fleet: list[WorkerProfile] = FLEET,
) -> tuple[WorkflowStatus, list[Dispatch]]:
    registry = BuiltinRegistry()
    for profile in fleet:
        await registry.register(profile)
    scheduler = IntelligentScheduler(
        registry, MemoryCache(), SchedulerConfig(intelligent=intelligent)
    )

    def behaviour(ticket: ExecutionTicket) -> bool:
        return ticket.task_id not in failing

    rig = FlowRig(client, FAST, behaviour, scheduler=scheduler)
    async with rig.worker:
        submission = await rig.submit(decision_doc(name))
        view = await rig.finished_view(submission.workflow_id)
    dispatches = [
        (t.task_id, t.retry_count, t.metadata.get("worker_id"))
        for t in rig.tickets_published()
        if t.status is TicketStatus.PENDING
    ]
    return view.status, dispatches


async def simulated_run(
    name: str,
    failing: set[str],
    placement: Placement = Placement.INTELLIGENT,
    fleet: list[WorkerProfile] = FLEET,
) -> tuple[str, list[Dispatch], int]:
    decision = parse_decision(decision_doc(name))
    workers = [SimWorker(p) for p in fleet]
    sim = Simulation(
        [PlanArrival(decision.created_at, decision, 1)],
        workers,
        Scripted(failing),
        dataclasses.replace(SIM_CONFIG, placement=placement),
        ledger=MemoryCache,
        trace=True,
    )
    report = await sim.run()
    assert sim.trace is not None
    seen: dict[str, int] = {}
    dispatches = []
    for entry in sim.trace:
        if entry.event == "DISPATCHED":
            dispatches.append((entry.task_id, seen.get(entry.task_id, 0), entry.worker_id))
            seen[entry.task_id] = seen.get(entry.task_id, 0) + 1
    return ("COMPLETED" if report.completed else "FAILED"), dispatches, report.capacity_waits


@pytest.mark.parametrize(
    ("name", "failing", "intelligent"),
    [
        ("approve-5-task-dag", set(), True),
        ("approve-5-task-dag", {"t4-canary"}, True),
        ("approve-5-task-dag", {"t4-canary"}, False),
        ("critical-security-3-task", {"c2"}, True),
        ("low-risk-lowercase-types", {"l2"}, True),
    ],
)
async def test_the_simulator_dispatches_retries_and_compensates_as_flow_c_does(
    temporal_env: Any, name: str, failing: set[str], intelligent: bool
) -> None:
    status, real = await real_run(temporal_env.client, name, failing, intelligent)
    placement = Placement.INTELLIGENT if intelligent else Placement.ROUND_ROBIN
    sim_status, simulated, _ = await simulated_run(name, failing, placement)
    assert status.value == sim_status
    assert simulated == real, f"simulated {simulated}\nreal      {real}"
    if failing:
        # The case exercises what it should: retries of the failing task, then compensations.
        assert any(retry > 0 for _, retry, _ in real)
        assert any(task.endswith(":compensate") for task, _, _ in real)


@pytest.mark.parametrize("failing", [set(), {"t4-canary"}])
async def test_with_capacity_exhausted_the_simulator_waits_as_flow_c_does(
    temporal_env: Any, failing: set[str]
) -> None:
    # t2 and t3 both need the one-slot worker: one of them waits (C3 asked again 2 s later, in
    # real time on the dev server, in virtual time in the simulator), never published unassigned.
    name = "approve-5-task-dag"
    status, real = await real_run(temporal_env.client, name, failing, fleet=FULL_FLEET)
    sim_status, simulated, waits = await simulated_run(
        name, failing, Placement.INTELLIGENT, FULL_FLEET
    )
    assert waits > 0  # the case exercises the wait
    assert status.value == sim_status
    assert simulated == real, f"simulated {simulated}\nreal      {real}"
    assert all(worker is not None for _, _, worker in real)

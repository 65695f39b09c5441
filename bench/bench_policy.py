"""Per-ticket policy evaluation (the C3 check: the four packages over one ticket's input).

Side by side, p50/p95 in microseconds over the 5-task fixture's tickets:
  - embedded engine (compiled RVM program), against the VM's own floor: the same input set
    and as many entry points executed, each a constant ``true`` rule;
  - the same check through the validator (metrics included, no decision log);
  - the OPA adapter over HTTP (cache off) against an OPA stand-in (OPA's Data API served by
    regorus; no OPA server runs here), against the floor of as many bare HTTP round trips;
  - the OPA adapter answering from its cache.
Goal: embedded p95 <= 100 us per ticket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import regorus

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.policy.embedded import EmbeddedPolicyEngine
from orchestrator_dynamic.adapters.policy.opa import OpaConfig, OpaPolicyEngine
from orchestrator_dynamic.domain.model import ExecutionTicket
from orchestrator_dynamic.services.planning import plan_document
from orchestrator_dynamic.services.policy import TICKET_PACKAGES, PlanContext, PolicyValidator
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.conftest import decision_doc
from tests.servers.opa_standin import OpaStandIn

GOAL_P95_US = 100.0
Probe = Callable[[int], Awaitable[Any]]
FLOOR_POLICY = "package floor\n\nd1 := true\n\nd2 := true\n\nd3 := true\n\nd4 := true\n"


def fixture() -> tuple[list[ExecutionTicket], int]:
    doc = decision_doc("approve-5-task-dag")
    now = int(doc["created_at"]) + 1_000
    return plan_document(doc, now).tickets, now


def inputs() -> list[dict[str, Any]]:
    """The exact documents the validator hands the engine at C3, one per ticket."""
    tickets, now = fixture()
    make = PolicyValidator(None).input_document  # type: ignore[arg-type]  # no engine needed
    return [make("ticket", now, [t], PlanContext()) for t in tickets]


async def percentiles(probe: Probe, rounds: int, warmup: int = 200) -> tuple[float, float]:
    for i in range(warmup):
        await probe(i)
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        await probe(i)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.95)]


def vm_floor(docs: list[dict[str, Any]]) -> Probe:
    program = regorus.Program.compile_from_modules(
        "{}", [("floor.rego", FLOOR_POLICY)], [f"data.floor.d{i}" for i in range(1, 5)]
    )
    vm = regorus.Rvm()
    vm.load_program(program)

    async def probe(i: int) -> None:
        vm.set_input_json(json.dumps(docs[i % len(docs)], separators=(",", ":")))
        for n in range(1, 5):
            json.loads(vm.execute_entry_point(f"data.floor.d{n}"))

    return probe


def line(name: str, ours: tuple[float, float], floor: tuple[float, float] | None) -> str:
    base = f"{name:<34} {ours[0]:>9.1f} {ours[1]:>9.1f}"
    if floor is None:
        return base
    return f"{base} {floor[0]:>9.1f} {floor[1]:>9.1f} {ours[1] / floor[1]:>6.2f}x"


async def main() -> None:
    docs = inputs()
    engine = EmbeddedPolicyEngine(DEFAULT_POLICY_DIR)
    validator = PolicyValidator(engine)
    tickets, now = fixture()
    print(
        f"{'per ticket (us)':<34} {'p50':>9} {'p95':>9} {'floor50':>9} {'floor95':>9} {'p95/floor':>7}"
    )

    async def embedded(i: int) -> None:
        await engine.evaluate_many(TICKET_PACKAGES, docs[i % len(docs)])

    ours = await percentiles(embedded, 5000)
    print(line("embedded (4 packages)", ours, await percentiles(vm_floor(docs), 5000)))

    async def through_validator(i: int) -> None:
        await validator.validate_ticket(tickets[i % len(tickets)], now)

    print(line("embedded via validator", await percentiles(through_validator, 5000), None))
    await engine.close()
    await http(docs)
    verdict = "met" if ours[1] <= GOAL_P95_US else "MISSED"
    print(f"goal: embedded p95 <= {GOAL_P95_US:.0f} us per ticket: {verdict} ({ours[1]:.1f} us)")


async def http(docs: list[dict[str, Any]]) -> None:
    server = OpaStandIn(DEFAULT_POLICY_DIR)
    server.start()
    opa = OpaPolicyEngine(OpaConfig(server.url, cache_ttl_seconds=0), MemoryCache())
    cached = OpaPolicyEngine(OpaConfig(server.url, cache_ttl_seconds=300), MemoryCache())
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:

            async def round_trips(i: int) -> None:
                for _ in TICKET_PACKAGES:
                    (await client.get("/health")).raise_for_status()

            async def through_opa(i: int) -> None:
                await opa.evaluate_many(TICKET_PACKAGES, docs[i % len(docs)])

            async def from_cache(i: int) -> None:
                await cached.evaluate_many(TICKET_PACKAGES, docs[i % len(docs)])

            floor = await percentiles(round_trips, 300, warmup=30)
            print(
                line(
                    "OPA adapter over HTTP (stand-in)",
                    await percentiles(through_opa, 300, 30),
                    floor,
                )
            )
            print(line("OPA adapter, cache hits", await percentiles(from_cache, 3000), None))
    finally:
        await opa.close()
        await cached.close()
        server.stop()

"""IntelligentScheduler over the in-process cache and the built-in registry (both real adapters)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.errors import RegistryUnavailable
from orchestrator_dynamic.domain.model import SecurityLevel, TicketStatus
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, ineligibility
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.services.scheduling import (
    IntelligentScheduler,
    SchedulerConfig,
    release_ended,
)
from tests.scheduling_factory import T0, ticket, worker

CAPS = ["python", "gpu", "aws"]
workers_st = st.lists(
    st.builds(
        lambda i, caps, health, sec, cap, active: worker(
            f"w{i}", set(caps), health=health, security=sec, max_tasks=cap, active=min(active, cap)
        ),
        st.integers(0, 10_000),
        st.sets(st.sampled_from(CAPS)),
        st.sampled_from(list(Health)),
        st.sampled_from(list(SecurityLevel)),
        st.integers(1, 3),
        st.integers(0, 3),
    ),
    max_size=15,
    unique_by=lambda w: w.worker_id,
)
tickets_st = st.tuples(st.sets(st.sampled_from(CAPS)), st.sampled_from(list(SecurityLevel)))


async def fleet(workers: Sequence[WorkerProfile]) -> BuiltinRegistry:
    registry = BuiltinRegistry()
    for w in workers:
        await registry.register(w)
    return registry


def scheduler(
    registry: object, cache: MemoryCache | None = None, **conf: object
) -> IntelligentScheduler:
    config = SchedulerConfig(cache_ttl_seconds=0.0, **conf)  # type: ignore[arg-type]
    return IntelligentScheduler(registry, cache or MemoryCache(), config)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(workers_st, st.lists(tickets_st, min_size=1, max_size=20))
def test_never_picks_an_ineligible_worker_nor_overfills_one(
    workers: list[WorkerProfile], wanted: list[tuple[set[str], SecurityLevel]]
) -> None:
    async def run() -> None:
        sched = scheduler(await fleet(workers))
        tickets = [ticket(capabilities=sorted(c), security=s) for c, s in wanted]
        allocations = await asyncio.gather(*(sched.allocate(t, T0) for t in tickets))
        by_id = {w.worker_id: w for w in workers}
        load: dict[str, int] = {}
        for t, a in zip(tickets, allocations, strict=True):
            if a.worker_id is None:
                assert a.method == "unassigned"
                continue
            w = by_id[a.worker_id]
            assert ineligibility(w, set(t.required_capabilities), t.security_level) is None
            load[w.worker_id] = load.get(w.worker_id, 0) + 1
        for worker_id, n in load.items():
            assert n <= by_id[worker_id].max_concurrent_tasks
            assert await sched.active_tasks(worker_id) == n

    asyncio.run(run())


async def test_picks_the_best_scored_worker_and_explains_why() -> None:
    registry = await fleet(
        [
            worker("good", {"python"}, success_rate=1.0),
            worker("flaky", {"python"}, success_rate=0.2),
            worker("degraded", {"python"}, health=Health.DEGRADED),
            worker("sick", {"python"}, health=Health.UNHEALTHY),
            worker("full", {"python"}, max_tasks=1, active=1),
        ]
    )
    t = ticket(capabilities=["python"])
    allocation = await scheduler(registry).allocate(t, T0)
    assert allocation.worker_id == "good"
    assert allocation.method == "intelligent"
    doc = allocation.explanation
    assert doc["ticket_id"] == t.ticket_id and doc["worker_id"] == "good"
    assert doc["allocation_method"] == "intelligent"
    assert doc["priority_score"] == round(allocation.priority_score, 4)
    rows = {c["worker_id"]: c for c in doc["candidates"]}
    # The explain contract's fields, what the security policy checked the worker against, and
    # (eligible workers whose load was read) the queue estimate.
    queue_fields = {
        "in_flight", "predicted_work_ms", "predicted_queue_ms", "predicted_load_pct",
        "predicted_completion_ms", "meets_deadline",
    }  # fmt: skip
    assert set(rows["good"]) == {
        "worker_id", "capabilities", "health", "eligible", "reason", "agent_score", "worker_score",
        "security_level", "namespace", *queue_fields,
    }  # fmt: skip
    assert not queue_fields & set(rows["sick"])
    assert rows["good"]["eligible"] and rows["good"]["worker_score"] > rows["flaky"]["worker_score"]
    assert rows["sick"] == {**rows["sick"], "eligible": False, "reason": "unhealthy"}
    assert rows["full"]["reason"] == "at capacity (1/1)"
    assert [c["worker_id"] for c in doc["candidates"]][:3] == ["good", "degraded", "flaky"]


async def test_a_full_worker_is_skipped_for_the_next_best() -> None:
    registry = await fleet([worker("a", max_tasks=1), worker("b", success_rate=0.5)])
    sched = scheduler(registry)
    first = await sched.allocate(ticket(capabilities=["python"]), T0)
    second = await sched.allocate(ticket(capabilities=["python"]), T0)
    assert (first.worker_id, second.worker_id) == ("a", "b")
    reasons = {c["worker_id"]: c["reason"] for c in second.explanation["candidates"]}
    assert reasons["a"] == "at capacity"


async def test_namespace_from_ticket_metadata_is_enforced() -> None:
    registry = await fleet([worker("a", namespace="team-a"), worker("b", namespace="team-b")])
    t = ticket(capabilities=["python"], metadata={"namespace": "team-b"})
    assert (await scheduler(registry).allocate(t, T0)).worker_id == "b"


async def test_release_gives_capacity_back_exactly_once() -> None:
    registry = await fleet([worker("a", max_tasks=1)])
    sched = scheduler(registry)
    t = ticket(capabilities=["python"])
    assert (await sched.allocate(t, T0)).worker_id == "a"
    assert (await sched.allocate(t, T0)).method == "reserved"  # a retried C3 keeps its slot
    assert (await sched.allocate(ticket(capabilities=["python"]), T0)).worker_id is None
    await asyncio.gather(sched.release(t.ticket_id, "a"), sched.release(t.ticket_id, "a"))
    assert await sched.active_tasks("a") == 0
    assert (await sched.allocate(ticket(capabilities=["python"]), T0)).worker_id == "a"


async def test_round_robin_when_intelligence_is_off() -> None:
    registry = await fleet([worker("a"), worker("b", success_rate=0.1), worker("c")])
    sched = scheduler(registry, intelligent=False)
    picks = [(await sched.allocate(ticket(capabilities=["python"]), T0)) for _ in range(6)]
    assert [p.worker_id for p in picks] == ["a", "b", "c", "a", "b", "c"]
    assert {p.method for p in picks} == {"round_robin"}


class FlakyRegistry(BuiltinRegistry):
    down = False

    async def discover(self, capabilities: Sequence[str], **kwargs: object) -> list[WorkerProfile]:
        if self.down:
            raise RegistryUnavailable("registry", "connection refused")
        return await super().discover(capabilities, **kwargs)  # type: ignore[arg-type]


async def test_registry_down_falls_back_to_last_known_healthy_workers() -> None:
    registry = FlakyRegistry()
    await registry.register(worker("a", {"python"}))
    await registry.register(worker("b", {"python"}, health=Health.DEGRADED))
    sched = scheduler(registry)
    assert (await sched.allocate(ticket(capabilities=["python"]), T0)).method == "intelligent"
    registry.down = True
    before = m.FALLBACKS._value.get()
    failures = m.DISCOVERY_FAILURES.labels("registry_unavailable")._value.get()
    allocation = await sched.allocate(ticket(capabilities=["python"]), T0)
    assert (allocation.worker_id, allocation.method) == ("a", "fallback")
    assert allocation.explanation["allocation_method"] == "fallback"
    assert m.FALLBACKS._value.get() == before + 1
    assert m.DISCOVERY_FAILURES.labels("registry_unavailable")._value.get() == failures + 1
    gpu = await sched.allocate(ticket(capabilities=["gpu"]), T0)
    assert (gpu.worker_id, gpu.method) == (None, "unassigned")


async def test_discovery_is_cached_for_its_ttl() -> None:
    clock = [0.0]
    cache = MemoryCache(clock=lambda: clock[0])
    registry = FlakyRegistry()
    await registry.register(worker("a"))
    sched = IntelligentScheduler(registry, cache, SchedulerConfig(cache_ttl_seconds=30))
    hits = m.CACHE_HITS.labels("hit")._value.get()
    misses = m.CACHE_HITS.labels("miss")._value.get()
    await sched.allocate(ticket(capabilities=["python"]), T0)
    registry.down = True  # served from the cache: the registry is not asked
    assert (await sched.allocate(ticket(capabilities=["python"]), T0)).method == "intelligent"
    assert m.CACHE_HITS.labels("hit")._value.get() == hits + 1
    assert m.CACHE_HITS.labels("miss")._value.get() == misses + 1
    clock[0] = 31.0  # expired: the registry is asked again, and it is down
    assert (await sched.allocate(ticket(capabilities=["python"]), T0)).method == "fallback"


async def test_release_ended_frees_slots_of_tickets_that_never_answered() -> None:
    registry = await fleet([worker("a", max_tasks=2)])
    sched = scheduler(registry)
    silent, running = ticket(capabilities=["python"]), ticket(capabilities=["python"])
    for t in (silent, running):
        assert (await sched.allocate(t, T0)).worker_id == "a"
    timed_out = silent.model_copy(
        update={"status": TicketStatus.FAILED, "metadata": {"worker_id": "a"}}
    )
    still = running.model_copy(
        update={"status": TicketStatus.RUNNING, "metadata": {"worker_id": "a"}}
    )
    await release_ended(sched, [timed_out, still, ticket()])
    assert await sched.active_tasks("a") == 1  # only the silent ticket's slot came back
    await release_ended(sched, [timed_out])
    assert await sched.active_tasks("a") == 1  # idempotent


async def test_the_same_ticket_allocated_concurrently_holds_one_slot() -> None:
    registry = await fleet([worker("a", max_tasks=5), worker("b", max_tasks=5)])
    sched = scheduler(registry)
    t = ticket(capabilities=["python"])
    results = await asyncio.gather(*(sched.allocate(t, T0) for _ in range(8)))
    assert len({r.worker_id for r in results}) == 1
    assert sorted(r.method for r in results).count("intelligent") == 1
    held = await sched.active_tasks("a") + await sched.active_tasks("b")
    assert held == 1


async def test_allocations_are_measured() -> None:
    registry = await fleet(
        [worker("ok"), worker("sick", health=Health.UNHEALTHY), worker("nogpu", {"python"})]
    )
    sched = scheduler(registry)
    before = {
        "alloc": m.ALLOCATIONS.labels("intelligent")._value.get(),
        "unassigned": m.ALLOCATIONS.labels("unassigned")._value.get(),
        "unhealthy": m.REJECTIONS.labels("unhealthy")._value.get(),
    }
    await sched.allocate(ticket(capabilities=["python"]), T0)
    await sched.allocate(ticket(capabilities=["gpu"]), T0)
    assert m.ALLOCATIONS.labels("intelligent")._value.get() == before["alloc"] + 1
    assert m.ALLOCATIONS.labels("unassigned")._value.get() == before["unassigned"] + 1
    assert m.REJECTIONS.labels("unhealthy")._value.get() == before["unhealthy"] + 1
    assert m.WORKERS_DISCOVERED._value.get() == 0  # nobody has "gpu"
    samples = {s.name: s.value for s in m.ALLOCATION_DURATION.collect()[0].samples}
    assert samples["orchestration_scheduler_allocation_duration_seconds_count"] >= 2

"""C3 predicts each candidate's queue and load from the capacity ledger and, among close scores,
prefers the worker on which the ticket meets its deadline; explain, metadata and span say so."""

from __future__ import annotations

import uuid

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.observability import scheduler_metrics as m
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig
from tests.scheduling_factory import T0, ticket, worker
from tests.scheduling_queue import LONG_MS, SLOTS, fleet, long_ticket, urgent_ticket


async def scheduler(cap: str, **conf: float) -> IntelligentScheduler:
    registry = BuiltinRegistry()
    for w in fleet(cap):
        await registry.register(w)
    config = SchedulerConfig(cache_ttl_seconds=0.0, **conf)  # type: ignore[arg-type]
    return IntelligentScheduler(registry, MemoryCache(), config)


async def loaded(cap: str, **conf: float) -> IntelligentScheduler:
    sched = await scheduler(cap, **conf)
    for _ in range(3):
        assert (await sched.allocate(long_ticket(cap), T0)).worker_id == "best"
    return sched


async def test_the_deadline_moves_a_ticket_to_a_close_worker_and_explain_says_why(
    span_exporter: InMemorySpanExporter,
) -> None:
    cap = f"cap-{uuid.uuid4().hex[:6]}"
    sched = await loaded(cap)
    moved_before = m.DEADLINE_PREFERENCES._value.get()
    t = urgent_ticket(cap)
    allocation = await sched.allocate(t, T0)
    assert allocation.worker_id == "close"
    assert m.DEADLINE_PREFERENCES._value.get() == moved_before + 1
    queue = allocation.explanation["queue"]
    assert queue["changed"] and queue["score_pick"] == "best"
    assert queue["close"] == ["best", "close"]
    assert (queue["ticket_duration_ms"], queue["duration_source"]) == (10_000, "model:v7")
    assert "best (best score) would finish after the deadline" in queue["reason"]
    rows = {c["worker_id"]: c for c in allocation.explanation["candidates"]}
    backlog = 3 * LONG_MS // SLOTS  # 45 s per slot
    assert rows["best"]["predicted_queue_ms"] == backlog
    assert rows["best"]["predicted_load_pct"] == 75.0
    assert rows["best"]["predicted_completion_ms"] == T0 + backlog + 10_000
    assert rows["best"]["meets_deadline"] is False
    assert (rows["close"]["predicted_queue_ms"], rows["close"]["meets_deadline"]) == (0, True)
    assert allocation.metadata == {
        "predicted_queue_ms": "0",
        "predicted_load_pct": "0.0",
        "predicted_completion_ms": str(T0 + 10_000),
        "queue_duration_source": "model:v7",
    }
    [span] = [
        s
        for s in span_exporter.get_finished_spans()
        if s.name == "scheduler.allocate"
        and (s.attributes or {}).get("neural.hive.ticket.id") == t.ticket_id
    ]
    attrs = dict(span.attributes or {})
    assert attrs["neural.hive.ml.predicted_queue_ms"] == 0
    assert attrs["neural.hive.ml.predicted_load_pct"] == 0.0
    assert attrs["neural.hive.worker.id"] == "close"
    # The slot it holds is on "close", not on "best".
    assert (await sched.active_tasks("best"), await sched.active_tasks("close")) == (3, 1)


async def test_with_zero_tolerance_or_a_generous_deadline_the_score_decides() -> None:
    cap = f"cap-{uuid.uuid4().hex[:6]}"
    strict = await loaded(cap, score_tolerance=0.0)
    allocation = await strict.allocate(urgent_ticket(cap), T0)
    assert allocation.worker_id == "best"
    assert allocation.explanation["queue"]["changed"] is False
    relaxed = await loaded(cap)
    easy = await relaxed.allocate(urgent_ticket(cap, predicted_ms=1_000).model_copy(
        update={"sla": ticket(timeout_ms=600_000).sla}
    ), T0)  # fmt: skip
    assert easy.worker_id == "best"
    assert easy.explanation["queue"]["reason"] == "best score meets the deadline"


async def test_released_work_leaves_the_queue_and_no_prediction_falls_back_to_the_estimate() -> (
    None
):
    cap = f"cap-{uuid.uuid4().hex[:6]}"
    sched = await scheduler(cap)
    fillers = [long_ticket(cap) for _ in range(3)]
    for f in fillers:
        await sched.allocate(f, T0)
    for f in fillers:
        await sched.release(f.ticket_id, "best")
    plain = ticket(capabilities=[cap], timeout_ms=30_000).model_copy(
        update={"estimated_duration_ms": 9_000}
    )
    allocation = await sched.allocate(plain, T0)
    assert allocation.worker_id == "best"
    queue = allocation.explanation["queue"]
    assert (queue["duration_source"], queue["ticket_duration_ms"]) == ("estimate", 9_000)
    assert (queue["predicted_queue_ms"], queue["in_flight"]) == (0, 0)
    bare = await sched.allocate(ticket(capabilities=[cap]), T0)
    assert bare.explanation["queue"]["duration_source"] == "none"
    assert bare.metadata["queue_duration_source"] == "none"


async def test_round_robin_ignores_the_deadline() -> None:
    cap = f"cap-{uuid.uuid4().hex[:6]}"
    sched = await scheduler(cap, intelligent=False)  # type: ignore[arg-type]
    picks = [(await sched.allocate(urgent_ticket(cap), T0)).worker_id for _ in range(4)]
    assert picks == ["best", "close", "best", "close"]


async def test_when_every_offer_read_is_full_the_next_ones_are_offered_in_chunks() -> None:
    registry = BuiltinRegistry()
    for i in range(15):  # distinct scores, one slot each; tolerance 0: only the top 10 are read
        await registry.register(worker(f"w{i:02d}", {"one"}, max_tasks=1, success_rate=1 - i / 100))
    sched = IntelligentScheduler(
        registry, MemoryCache(), SchedulerConfig(cache_ttl_seconds=0.0, score_tolerance=0.0)
    )
    picks = [await sched.allocate(ticket(capabilities=["one"]), T0) for _ in range(16)]
    assert [p.worker_id for p in picks[:15]] == [f"w{i:02d}" for i in range(15)]
    assert (picks[15].worker_id, picks[15].method) == (None, "unassigned")
    eleventh = picks[10].explanation
    assert eleventh["queue"]["in_flight"] == 0  # its own load was read with its reservation
    assert [c["reason"] for c in eleventh["candidates"]] == ["at capacity"] * 10

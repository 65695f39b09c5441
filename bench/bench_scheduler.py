"""Scheduler (C3) allocation speed against the specification's figures, single process.

For 10, 100, 1,000 and 10,000 registered workers (built-in registry, in-process cache), with
the discovery cache warm (TTL 60 s) and cold (TTL 0: every allocation asks the registry):
allocations/s and p50/p95/p99 latency of one allocation (discover, filter, score, reserve,
queue estimates, explain). Each allocation's slot is released before the next (not timed) so
capacity never runs out. The floor is the capacity ledger's own reservation (one call: one Lua
script on Redis) measured in the same run; the specification publishes p50 ~50 ms,
p95 < 200 ms, up to 50 concurrent allocations. When redis-server is installed, the
1,000-worker rows are repeated with the ledger and discovery in a throw-away local Redis, and
a "busy" pair (in process, then Redis) keeps 100 tickets in flight on workers of 10 slots, so
the ledger holds predicted work and full workers are skipped. Goal (issue 19): Redis-backed
allocation p95 <= 1 ms at 1,000 workers; the last line gives it with its ratio to in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator

from bench import goals
from orchestrator_dynamic.adapters.cache.memory import MemoryCache
from orchestrator_dynamic.adapters.cache.redis import RedisCache
from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.errors import CacheUnavailable
from orchestrator_dynamic.domain.model import (
    SLA,
    Consistency,
    DeliveryMode,
    Durability,
    ExecutionTicket,
    QoS,
    RiskBand,
    SecurityLevel,
    TaskType,
    TicketPriority,
)
from orchestrator_dynamic.domain.ports import LedgerCache, SlotOffer
from orchestrator_dynamic.domain.queueing import InFlight
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.services.scheduling import IntelligentScheduler, SchedulerConfig

SPEC_P50_MS = 50.0
SPEC_P95_MS = 200.0
SPEC_CONCURRENT = 50
GOAL_REDIS_P95_MS = 1.0
BUSY_IN_FLIGHT = 100
BUSY_SLOTS = 10
PAIRED_ROUNDS, PAIRED_BATCH = 10, 220  # 200 timed allocations a round (20 warm up)
SIZES = (10, 100, 1_000, 10_000)
ALLOCATIONS = 2_000
MAX_RESULTS = 100
T0 = 1_795_000_000_000
EXTRA = ("gpu", "aws", "k8s", "db")


def fleet_member(i: int, slots: int = 1_000_000) -> WorkerProfile:
    """Every worker can run "python"; a mix of extras, health and security so filters work."""
    return WorkerProfile(
        worker_id=f"worker-{i:05d}",
        capabilities=frozenset({"python", EXTRA[i % 4], EXTRA[(i // 4) % 4]}),
        health=Health.DEGRADED if i % 10 == 0 else Health.HEALTHY,
        security_level=SecurityLevel.RESTRICTED if i % 3 else SecurityLevel.INTERNAL,
        max_concurrent_tasks=slots,
        telemetry=WorkerTelemetry(success_rate=0.5 + (i % 50) / 100, experience=(i % 7) / 7),
    )


def make_ticket(n: int) -> ExecutionTicket:
    return ExecutionTicket(
        ticket_id=f"ticket-{n}",
        plan_id="p",
        intent_id="i",
        decision_id="d",
        task_id=f"t{n}",
        task_type=TaskType.EXECUTE,
        description="bench",
        priority=TicketPriority.HIGH,
        risk_band=RiskBand.HIGH,
        sla=SLA(deadline=T0 + 60_000, timeout_ms=60_000, max_retries=3),
        qos=QoS(
            delivery_mode=DeliveryMode.EXACTLY_ONCE,
            consistency=Consistency.STRONG,
            durability=Durability.PERSISTENT,
        ),
        required_capabilities=["python", ("gpu", "aws")[n % 2]],
        security_level=SecurityLevel.CONFIDENTIAL,
        created_at=T0,
        estimated_duration_ms=1_000 + (n % 7) * 1_000,
    )


async def build(
    size: int, ttl: float, cache: LedgerCache | None = None, slots: int = 1_000_000
) -> IntelligentScheduler:
    registry = BuiltinRegistry()
    for i in range(size):
        await registry.register(fleet_member(i, slots))
    config = SchedulerConfig(
        max_results=MAX_RESULTS,
        cache_ttl_seconds=ttl,
        # as the service runs over a shared cache (bootstrap.LOCAL_DISCOVERY_S)
        local_discovery_seconds=1.0 if cache else 0.0,
    )
    return IntelligentScheduler(registry, cache or MemoryCache(), config)


async def latencies(
    sched: IntelligentScheduler, count: int, in_flight: int = 0
) -> tuple[list[float], float]:
    """Timed allocations; each slot is released ``in_flight`` allocations later (untimed)."""
    tickets = [make_ticket(n) for n in range(count)]
    held: list[tuple[str, str]] = []
    for t in tickets[:20]:  # warm-up (and, when the cache is on, fill it)
        a = await sched.allocate(t, T0)
        await sched.release(t.ticket_id, a.worker_id or "")
    out, busy = [], 0.0
    for t in tickets[20:]:
        start = time.perf_counter()
        a = await sched.allocate(t, T0)
        out.append(time.perf_counter() - start)
        busy += out[-1]
        held.append((t.ticket_id, a.worker_id or ""))
        while len(held) > in_flight:
            await sched.release(*held.pop(0))
    for ticket_id, worker_id in held:
        await sched.release(ticket_id, worker_id)
    return out, busy


async def floor(count: int, cache: LedgerCache | None = None) -> list[float]:
    """The ledger's reservation alone (one offer, no loads read): what any allocation must at
    least do. One Lua script on Redis, so one round trip."""
    ledger, out = cache or MemoryCache(), []
    offer = [SlotOffer("floor-worker", 1_000_000)]
    for n in range(count):
        start = time.perf_counter()
        await ledger.reserve(f"floor-{n}", offer, InFlight(T0, 1), read=0, ttl_seconds=60)
        out.append(time.perf_counter() - start)
        await ledger.release_slot(f"floor-{n}", "floor-worker")
    return out


async def concurrent(sched: IntelligentScheduler) -> float:
    """Wall time of SPEC_CONCURRENT allocations started together."""
    tickets = [make_ticket(10_000_000 + n) for n in range(SPEC_CONCURRENT)]
    start = time.perf_counter()
    await asyncio.gather(*(sched.allocate(t, T0) for t in tickets))
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def row(label: str, lat: list[float], busy: float, base: list[float]) -> str:
    p50, p95, p99 = pct(lat, 50), pct(lat, 95), pct(lat, 99)
    return (
        f"{label:<22} {len(lat) / busy:>10.0f} {p50:>8.3f} {p95:>8.3f} {p99:>8.3f} "
        f"{pct(base, 95):>8.4f} {SPEC_P50_MS / p50:>9.0f}x {SPEC_P95_MS / p95:>9.0f}x"
    )


async def main() -> None:
    base = await floor(ALLOCATIONS)
    print(f"{MAX_RESULTS} candidates per discovery at most; spec: p50 ~{SPEC_P50_MS:.0f} ms, "
          f"p95 < {SPEC_P95_MS:.0f} ms, {SPEC_CONCURRENT} concurrent")  # fmt: skip
    head = f"{'workers / cache':<22} {'alloc/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    print(f"{head} {'floor95':>8} {'spec/p50':>10} {'spec/p95':>10}")
    p95: dict[str, float] = {}
    for size in SIZES:
        for label, ttl in (("warm", 60.0), ("cold", 0.0)):
            sched = await build(size, ttl)
            lat, busy = await latencies(sched, ALLOCATIONS)
            p95[f"{size} {label}"] = pct(lat, 95)
            print(row(f"{size:>6} {label}", lat, busy, base), flush=True)
        burst = await concurrent(sched)
        # Every allocation of the burst ends within the burst's wall time: an upper bound on
        # the slowest one, compared with the specification's p95 at that concurrency.
        print(f"{size:>6} {SPEC_CONCURRENT} at once (cold): all placed in {burst * 1000:.2f} ms, "
              f"so the slowest <= that; spec p95 {SPEC_P95_MS:.0f} ms: "
              f"{SPEC_P95_MS / (burst * 1000):.0f}x")  # fmt: skip
    sched = await build(1_000, 60.0, slots=BUSY_SLOTS)
    lat, busy = await latencies(sched, ALLOCATIONS, BUSY_IN_FLIGHT)
    p95["1000 busy"] = pct(lat, 95)
    print(row("  1000 busy", lat, busy, base), flush=True)
    await redis_rows(p95)
    print("floor95 = p95 of the ledger's reservation on the same cache; "
          "spec/pNN = specification / ours")  # fmt: skip


async def summary(port: int) -> None:
    """The goal's figures: in-process and Redis measured in alternating rounds, so a machine
    that gets busier during the run weighs on both sides alike."""
    for label, slots, in_flight in (("warm", 1_000_000, 0), ("busy", BUSY_SLOTS, BUSY_IN_FLIGHT)):
        local: list[float] = []
        ours: list[float] = []
        async with redis_client(port) as cache:
            shared = await build(1_000, 60.0, cache, slots)
            alone = await build(1_000, 60.0, slots=slots)
            for _ in range(PAIRED_ROUNDS):
                local += (await latencies(alone, PAIRED_BATCH, in_flight))[0]
                ours += (await latencies(shared, PAIRED_BATCH, in_flight))[0]
        p95, base = pct(ours, 95), pct(local, 95)
        verdict = "met" if p95 <= GOAL_REDIS_P95_MS else "missed"
        print(f"Redis-backed allocation, 1,000 workers ({label}): p95 {p95:.3f} ms, goal <= "
              f"{GOAL_REDIS_P95_MS:.0f} ms: {verdict}; {p95 / base:.2f}x in-process "
              f"({base:.3f} ms), alternating rounds")  # fmt: skip
        if label == "warm":  # the goal; "busy" is a harder case of our own
            goals.record(
                goals.REDIS_ALLOCATION_P95,
                f"{p95:.3f} ms",
                "<= 1 ms",
                p95 <= GOAL_REDIS_P95_MS,
                p95,
            )


async def redis_rows(p95: dict[str, float]) -> None:
    """The same at 1,000 workers with the ledger and discovery in a real local redis-server."""
    async with local_redis() as port:
        if port is None:
            print("(redis-server not installed: Redis rows skipped)")
            return
        async with redis_client(port) as cache:
            base = await floor(ALLOCATIONS // 2, cache)
        for label, ttl, slots, in_flight in (
            ("warm", 60.0, 1_000_000, 0),
            ("cold", 0.0, 1_000_000, 0),
            ("busy", 60.0, BUSY_SLOTS, BUSY_IN_FLIGHT),
        ):
            async with redis_client(port) as cache:
                sched = await build(1_000, ttl, cache, slots)
                lat, busy = await latencies(sched, ALLOCATIONS, in_flight)
            p95[f"1000 {label} redis"] = pct(lat, 95)
            print(row(f"  1000 {label} redis", lat, busy, base), flush=True)
        await summary(port)


@contextlib.asynccontextmanager
async def redis_client(port: int) -> AsyncIterator[RedisCache]:
    cache = RedisCache([("127.0.0.1", port)])
    for _ in range(100):  # the server may still be starting
        try:
            await cache.start()
            break
        except CacheUnavailable:
            await asyncio.sleep(0.05)
    try:
        yield cache
    finally:
        await cache.stop()


@contextlib.asynccontextmanager
async def local_redis() -> AsyncIterator[int | None]:
    """A throw-away redis-server on a free loopback port; None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", ""]
        proc = await asyncio.create_subprocess_exec(
            binary, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            yield port
        finally:
            proc.terminate()
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())

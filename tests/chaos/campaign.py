"""The fault campaign on the scaled-out topology (tests/topology.py).

Each scenario publishes plans (mixed fixtures) as decisions on the bus, injects its fault while
they run, waits until every plan ended, and measures:

- completed: plans whose workflow ended COMPLETED;
- lost: plans that did not (never started, failed, still running at the deadline), plus
  tickets of completed plans whose stored record does not say COMPLETED (a stale write applied
  after the outcome, by a zombie or a replay);
- tickets with two contents: (ticket id, attempt, status) keys read off the bus with two
  different contents, counted by the fleet that reads every ticket;
- over-capacity: times an agent ran more tickets at once than it registered as its capacity;
- recovery s: from the end of the fault (process restarted, server resumed) until the last plan
  of the run ended; the worst run.

Sizes: CHAOS_SCALE=full for `make chaos`; the default (small) is what `make test` runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.chaos.report import Row
from tests.topology import COMPLETING, Topology

ENDED = {"COMPLETED", "FAILED", "TERMINATED", "CANCELED", "TIMED_OUT"}
MIXED = (*COMPLETING, "large-100-task-dag")
SPOOL_SETTLE_S = 20.0


@dataclass(frozen=True)
class Sizes:
    worker_runs: int
    worker_kills: int
    plans_per_run: int
    intake_stream: int
    intake_kills: int
    temporal_plans: int
    temporal_down_s: float
    outage_plans: int
    outage_s: float
    zombie_plans: int
    freeze_s: float
    up_plans: int
    settle_s: float
    mixed: tuple[str, ...]


# Frozen past the activities' start-to-close timeout (30 s) so the engine gives their work to
# the other replica before the zombie wakes up.
SMALL = Sizes(1, 3, 6, 40, 1, 6, 2.0, 6, 4.0, 12, 35.0, 40, 150.0, COMPLETING)
FULL = Sizes(5, 50, 12, 500, 3, 20, 5.0, 20, 20.0, 20, 40.0, 1000, 600.0, MIXED)


def sizes() -> Sizes:
    return FULL if os.environ.get("CHAOS_SCALE", "small") == "full" else SMALL


@dataclass
class Tally:
    """The fleet's counters at the start of a scenario: each row counts its own."""

    two_contents: set[str]
    over_capacity: int

    @classmethod
    def now(cls, topo: Topology) -> Tally:
        stats = topo.fleet_stats()
        return cls(set(stats.get("two_contents", [])), int(stats.get("over_capacity_events", 0)))

    def since(self, topo: Topology, row: Row) -> None:
        later = Tally.now(topo)
        row.tickets_with_two_contents = len(later.two_contents - self.two_contents)
        row.over_capacity = later.over_capacity - self.over_capacity


async def settle(topo: Topology, ids: list[str], within_s: float) -> tuple[dict[str, str], float]:
    """Poll the engine until every workflow ended (or the deadline); when that was."""
    deadline = time.monotonic() + within_s
    statuses: dict[str, str] = {}
    while True:
        try:
            statuses = await topo.statuses(ids)
        except (RuntimeError, OSError) as exc:  # the engine itself may be restarting
            statuses = {i: f"UNREACHABLE {exc}"[:40] for i in ids}
        if all(s in ENDED for s in statuses.values()) or time.monotonic() > deadline:
            return statuses, time.monotonic()
        await asyncio.sleep(1.0)


Fault = Callable[[Topology, random.Random], None]


def run_plans(topo: Topology, row: Row, count: int, fault: Fault, mixed: tuple[str, ...]) -> None:
    """One run: publish ``count`` plans, inject the fault while they run, settle, count."""
    rng = random.Random(len(row.scenario) * 1000 + row.runs)
    decisions = topo.decisions(count, mixed)
    ids = [d["decision_id"] for d in decisions]
    asyncio.run(topo.publish(decisions))
    fault(topo, rng)
    fault_end = time.monotonic()
    statuses, ended = asyncio.run(settle(topo, ids, sizes().settle_s))
    completed = [i for i, s in statuses.items() if s == "COMPLETED"]
    stale = asyncio.run(topo.stale_tickets(completed))
    # Fail-open writes of an outage reach the store when each replica replays its spool
    # (STORE_SPOOL_REPLAY_INTERVAL_SECONDS): eventually consistent; what stays stale is lost.
    deadline = time.monotonic() + SPOOL_SETTLE_S
    while stale and time.monotonic() < deadline:
        time.sleep(1.0)
        stale = asyncio.run(topo.stale_tickets(completed))
    row.runs += 1
    row.plans += count
    row.completed += len(completed)
    row.lost += count - len(completed) + len(stale)
    row.recovery_s = max(row.recovery_s, ended - fault_end)
    not_done = {i: s for i, s in statuses.items() if s != "COMPLETED"}
    if not_done:
        row.notes.setdefault("not_completed", {}).update(dict(list(not_done.items())[:5]))
    if stale:
        row.notes.setdefault("stale_tickets", []).extend(stale[:5])


def scenario(topo: Topology, name: str, body: Callable[[Row], None]) -> Row:
    row = Row(name)
    tally = Tally.now(topo)
    started = time.monotonic()
    body(row)
    tally.since(topo, row)
    row.notes["took_s"] = round(time.monotonic() - started)
    return row


# ---------------------------------------------------------------- faults


def kill_workers(kills: int) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 2.5))
            topo.restart(rng.choice(topo.replicas["worker"]))

    return fault


def kill_intakes(kills: int) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 3.0))
            topo.restart(rng.choice(topo.replicas["intake"]))

    return fault


def restart_temporal(down_s: float) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        assert topo.temporal is not None
        time.sleep(rng.uniform(1.0, 3.0))
        topo.temporal.kill()
        time.sleep(down_s)
        topo.start_temporal()

    return fault


def pause_broker(seconds: float) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        assert topo.broker is not None and topo.broker.proc is not None
        time.sleep(rng.uniform(0.5, 1.5))
        os.kill(topo.broker.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(topo.broker.proc.pid, signal.SIGCONT)

    return fault


def stop_postgres(seconds: float) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        assert topo.postgres is not None
        time.sleep(rng.uniform(0.5, 1.5))
        topo.postgres.stop()
        try:
            time.sleep(seconds)
        finally:
            topo.postgres.start()

    return fault


def stop_redis(seconds: float) -> Fault:
    def fault(topo: Topology, rng: random.Random) -> None:
        assert topo.redis is not None
        time.sleep(rng.uniform(0.5, 1.5))
        topo.redis.stop()
        try:
            time.sleep(seconds)
        finally:
            topo.redis.start()

    return fault


def freeze_worker(seconds: float) -> Fault:
    """SIGSTOP a worker replica with work in hand, past its activity timeouts, then SIGCONT."""

    def fault(topo: Topology, rng: random.Random) -> None:
        time.sleep(rng.uniform(0.1, 0.4))  # while both replicas hold workflow tasks and steps
        zombie = rng.choice(topo.replicas["worker"])
        zombie.signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            zombie.signal(signal.SIGCONT)

    return fault


# ---------------------------------------------------------------- the campaign


def topology_rows(topo: Topology, only: set[str] | None = None) -> Iterator[Row]:
    """Each scenario's row as soon as it is measured."""
    s = sizes()
    kills_per_run = max(1, s.worker_kills // s.worker_runs)
    plans: dict[str, Callable[[Row], None]] = {
        "worker SIGKILL": lambda row: [
            run_plans(topo, row, s.plans_per_run, kill_workers(kills_per_run), s.mixed)
            for _ in range(s.worker_runs)
        ],
        "intake SIGKILL": lambda row: run_plans(
            topo, row, s.intake_stream, kill_intakes(s.intake_kills), COMPLETING
        ),
        "temporal SIGKILL+restart": lambda row: run_plans(
            topo, row, s.temporal_plans, restart_temporal(s.temporal_down_s), s.mixed
        ),
        "broker SIGSTOP": lambda row: run_plans(
            topo, row, s.outage_plans, pause_broker(s.outage_s), s.mixed
        ),
        "postgres stopped": lambda row: run_plans(
            topo, row, s.outage_plans, stop_postgres(s.outage_s), s.mixed
        ),
        "redis stopped": lambda row: run_plans(
            topo, row, s.outage_plans, stop_redis(s.outage_s), s.mixed
        ),
        "worker frozen (zombie)": lambda row: run_plans(
            topo, row, s.zombie_plans, freeze_worker(s.freeze_s), s.mixed
        ),
    }
    for name, body in plans.items():
        if only is None or name in only:
            row = scenario(topo, name, body)
            if name == "worker SIGKILL":
                row.notes["kills"] = kills_per_run * s.worker_runs
            yield row


def faults_of(rows: list[Row]) -> dict[str, Any]:
    return {row.scenario: row.met() for row in rows}

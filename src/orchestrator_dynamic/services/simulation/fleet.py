"""The simulated fleet: the registry port the real scheduler talks to, and the
workers' slots, local queues and the backlog of unassigned tickets.

Heartbeats are instant: the registry always reports a worker's true load, so the scheduler's
filter sees what a fleet with fresh heartbeats would show. A ticket placed on a worker that is
busy (it took unplaced work meanwhile) waits in that worker's queue. A ticket whose able workers
are all full is not dispatched (it waits for capacity, as in Flow C); one the scheduler found no
worker for at all goes out ``unassigned`` and waits in the fleet's backlog, in arrival order,
until a worker that can run it (by capabilities, namespace and clearance) frees a slot.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.domain.rules import SECURITY_RANK
from orchestrator_dynamic.domain.scoring import Health, WorkerProfile
from orchestrator_dynamic.services.simulation.config import SimConfig
from orchestrator_dynamic.services.simulation.inputs import SimWorker

# What a ticket needs from a worker: capabilities, namespace, security level.
Needs = tuple[frozenset[str], str | None, SecurityLevel]


@dataclass
class Attempt:
    """One dispatch of one ticket, from the moment the workflow published it."""

    plan: int
    ticket_id: str
    number: int  # dispatches of this ticket so far, this one included
    needs: Needs
    band: str
    ready_at: int
    dispatched_at: int
    allocated_to: str | None
    predicted_ms: float = 0.0
    worker_id: str | None = None
    started_at: int | None = None


@dataclass
class WorkerState:
    sim: SimWorker
    profile: WorkerProfile
    running: dict[int, Attempt] = field(default_factory=dict)  # by id(attempt)
    queue: deque[Attempt] = field(default_factory=deque)
    busy_ms: int = 0
    last_change: int = 0
    started: int = 0

    def account(self, now: int) -> None:
        self.busy_ms += len(self.running) * (now - self.last_change)
        self.last_change = now


def can_run(profile: WorkerProfile, needs: Needs) -> bool:
    """The scheduler's filter without the capacity rule (``ineligibility`` minus load)."""
    caps, namespace, level = needs
    if profile.health is Health.UNHEALTHY or not caps <= profile.capabilities:
        return False
    if namespace is not None and profile.namespace != namespace:
        return False
    return SECURITY_RANK[profile.security_level] >= SECURITY_RANK[level]


class Fleet:
    """Workers, their load and the backlog; also the WorkerRegistry port for the scheduler."""

    def __init__(self, workers: Sequence[SimWorker]) -> None:
        self.workers = {w.profile.worker_id: WorkerState(w, w.profile) for w in workers}
        self._ids = sorted(self.workers)
        self._discovered: dict[tuple[frozenset[str], str | None, SecurityLevel | None], list[str]]
        self._discovered = {}
        self.backlog: dict[Needs, deque[Attempt]] = {}
        # Per worker: how many kinds of need it has judged, and those it can run.
        self._compatible: dict[str, tuple[int, list[Needs]]] = {}

    # ------------------------------------------------------------ registry port

    async def discover(
        self,
        capabilities: Sequence[str],
        *,
        namespace: str | None = None,
        security_level: SecurityLevel | None = None,
        max_results: int = 100,
    ) -> list[WorkerProfile]:
        """As the built-in registry: every capability, namespace, security level; id order."""
        key = (frozenset(capabilities), namespace, security_level)
        ids = self._discovered.get(key)
        if ids is None:
            ids = self._discovered[key] = [w for w in self._ids if self._offered(w, *key)]
        return [self.workers[w].profile for w in ids[:max_results]]

    def _offered(
        self, worker_id: str, caps: frozenset[str], ns: str | None, level: SecurityLevel | None
    ) -> bool:
        p = self.workers[worker_id].profile
        if not caps <= p.capabilities or (ns is not None and p.namespace != ns):
            return False
        return level is None or SECURITY_RANK[p.security_level] >= SECURITY_RANK[level]

    async def register(self, worker: WorkerProfile) -> None:
        """A worker joins the fleet (speed 1, the history's failure rate), or one already in it
        announces a new profile, keeping its load; discovery answers are recomputed."""
        state = self.workers.get(worker.worker_id)
        if state is None:
            self.workers[worker.worker_id] = WorkerState(SimWorker(worker), worker)
            self._ids = sorted(self.workers)
        else:
            state.sim, state.profile = dataclasses.replace(state.sim, profile=worker), worker
        self._discovered.clear()
        self._compatible.pop(worker.worker_id, None)

    async def heartbeat(self, worker_id: str, active_tasks: int | None = None) -> None:
        return None

    async def ping(self) -> None:
        return None

    # ------------------------------------------------------------ load

    def _load_changed(self, state: WorkerState) -> None:
        active = len(state.running) + len(state.queue)
        if state.profile.active_tasks != active:
            state.profile = dataclasses.replace(state.profile, active_tasks=active)

    def start(self, state: WorkerState, attempt: Attempt, now: int) -> None:
        state.account(now)
        state.running[id(attempt)] = attempt
        state.started += 1
        attempt.worker_id = state.profile.worker_id
        attempt.started_at = now
        self._load_changed(state)

    def enqueue(self, state: WorkerState, attempt: Attempt) -> None:
        state.queue.append(attempt)
        self._load_changed(state)

    def has_room(self, state: WorkerState) -> bool:
        return len(state.running) < state.profile.max_concurrent_tasks

    def finish(self, state: WorkerState, attempt: Attempt, now: int) -> None:
        state.account(now)
        del state.running[id(attempt)]
        self._load_changed(state)

    def to_backlog(self, attempt: Attempt) -> None:
        self.backlog.setdefault(attempt.needs, deque()).append(attempt)

    def next_for(self, state: WorkerState) -> Attempt | None:
        """What a worker with a free slot takes: its own queue first, then the oldest backlog
        ticket it can run."""
        if state.queue:
            attempt = state.queue.popleft()
            self._load_changed(state)
            return attempt
        best: deque[Attempt] | None = None
        for needs in self._compatible_needs(state):
            queue = self.backlog.get(needs)
            if queue and (best is None or queue[0].dispatched_at < best[0].dispatched_at):
                best = queue
        return best.popleft() if best else None

    def _compatible_needs(self, state: WorkerState) -> list[Needs]:
        seen, known = self._compatible.get(state.profile.worker_id, (0, []))
        if seen < len(self.backlog):  # new kinds of need appeared since last time
            known = [n for n in self.backlog if can_run(state.profile, n)]
            self._compatible[state.profile.worker_id] = (len(self.backlog), known)
        return known

    def expected_wait_ms(self, state: WorkerState, now: int) -> float:
        """When a new ticket would start on this worker, by the predicted durations of what it
        runs and holds (the predicted-duration-aware placement's yardstick)."""
        remaining = sum(
            max(0.0, a.started_at + a.predicted_ms - now)
            for a in state.running.values()
            if a.started_at is not None
        )
        queued = sum(a.predicted_ms for a in state.queue)
        if self.has_room(state):
            return 0.0
        return (remaining + queued) / state.profile.max_concurrent_tasks

    def backlog_size(self) -> int:
        return sum(len(q) for q in self.backlog.values())


def fleet_for(workers: Sequence[SimWorker], config: SimConfig) -> list[SimWorker]:
    """The workers file shaped by the setting: repeated (``id#2``, ``id#3``...) or cut to
    ``workers``, every capacity set to ``capacity``."""
    out = list(workers)
    if config.workers is not None:
        out = []
        for i in range(config.workers):
            base = workers[i % len(workers)]
            copy = i // len(workers)
            worker_id = base.profile.worker_id + (f"#{copy + 1}" if copy else "")
            out.append(
                dataclasses.replace(
                    base, profile=dataclasses.replace(base.profile, worker_id=worker_id)
                )
            )
    if config.capacity is not None:
        out = [
            dataclasses.replace(
                w, profile=dataclasses.replace(w.profile, max_concurrent_tasks=config.capacity)
            )
            for w in out
        ]
    return out

"""Simulated worker agents for `up --demo-workers N`: a plan can run to completion on one machine.

Each agent registers with the worker registry (a mix of capabilities, namespaces and security
levels so the fixtures exercise matching), takes the RUNNING tickets allocated to it from
``execution.tickets`` (an unassigned one, published when every able worker was full, is taken by
an able agent once it has a free slot), sleeps for a share of the estimate, fails at
DEMO_WORKER_FAILURE_RATE and reports on ``execution.results`` like a real agent would.

Each agent records its concurrent load (tickets being worked on, from receipt to the end of the
work) against the capacity it registered: the peak and every time it went over are metrics, so a
test or the chaos campaign can prove the scheduler never overfilled a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import structlog

from orchestrator_dynamic.domain.errors import OrchestratorError
from orchestrator_dynamic.domain.model import (
    ExecutionResult,
    ExecutionResultPayload,
    ExecutionTicket,
    ResultStatus,
    SecurityLevel,
    TicketStatus,
)
from orchestrator_dynamic.domain.ports import BusMessage, MessageBus, Subscription, WorkerRegistry
from orchestrator_dynamic.domain.rules import SECURITY_RANK
from orchestrator_dynamic.domain.scoring import WorkerProfile, WorkerTelemetry
from orchestrator_dynamic.observability import metrics

log = structlog.get_logger(__name__)

PROFILES: tuple[tuple[frozenset[str], SecurityLevel], ...] = (
    (frozenset({"code_generation", "testing"}), SecurityLevel.INTERNAL),
    (frozenset({"deployment", "validation"}), SecurityLevel.RESTRICTED),
    (frozenset({"testing", "validation"}), SecurityLevel.CONFIDENTIAL),
    (
        frozenset({"code_generation", "deployment", "testing", "validation"}),
        SecurityLevel.RESTRICTED,
    ),
)


def demo_profiles(count: int) -> list[WorkerProfile]:
    return [
        WorkerProfile(
            worker_id=f"demo-agent-{i + 1}",
            capabilities=PROFILES[i % len(PROFILES)][0],
            security_level=PROFILES[i % len(PROFILES)][1],
            max_concurrent_tasks=8,
            telemetry=WorkerTelemetry(success_rate=0.95, duration_score=0.7, experience=0.5),
        )
        for i in range(count)
    ]


@dataclass
class DemoAgentPool:
    bus: MessageBus
    registry: WorkerRegistry
    count: int
    failure_rate: float = 0.0
    speed: float = 0.001
    tickets_topic: str = "execution.tickets"
    results_topic: str = "execution.results"
    heartbeat_s: float = 10.0
    seed: int | None = None
    _running: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _seen: set[tuple[str, int]] = field(default_factory=set)
    _owner: dict[str, str] = field(default_factory=dict)
    _pending: list[BusMessage] = field(default_factory=list)
    load: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    over_capacity_events: int = 0
    _slot_freed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.profiles = {p.worker_id: p for p in demo_profiles(self.count)}
        self._rng = random.Random(self.seed)

    async def run(self) -> None:
        for profile in self.profiles.values():
            await self.registry.register(profile)
        subscription = await self.bus.subscribe([self.tickets_topic], "demo-agents")
        heartbeats = asyncio.create_task(self._heartbeats())
        try:
            while True:
                for message in await subscription.poll(100, 500):
                    self._take(message)
                    self._pending.append(message)
                await self._commit_done(subscription)
        finally:
            heartbeats.cancel()
            for task in self._running.values():
                task.cancel()
            await subscription.close()

    async def _commit_done(self, subscription: Subscription) -> None:
        """Commit up to the oldest ticket still being worked on: a crash mid-work means the
        ticket is delivered again after restart (at-least-once, like a real agent)."""
        done = None
        while self._pending:
            head = self._pending[0]
            if head.key is not None and head.key.decode() in self._running:
                break
            done = self._pending.pop(0)
        if done is not None:
            await subscription.commit(done)

    def _take(self, message: BusMessage) -> None:
        try:
            ticket = ExecutionTicket.model_validate_json(message.value)
        except ValueError:
            return
        worker_id = ticket.metadata.get("worker_id")
        if worker_id is not None and worker_id not in self.profiles:
            return  # another fleet's ticket
        if ticket.status is TicketStatus.FAILED:  # the orchestrator cancelled it
            task = self._running.pop(ticket.ticket_id, None)
            if task:
                task.cancel()
            return
        attempt = (ticket.ticket_id, ticket.retry_count)
        if ticket.status is not TicketStatus.PENDING or attempt in self._seen:
            return  # redelivery of an attempt we already run: never run it twice
        self._seen.add(attempt)
        if worker_id is None:  # unassigned (every allocated worker was full): volunteer
            self._running[ticket.ticket_id] = asyncio.create_task(self._volunteer(ticket))
            return
        self._owner[ticket.ticket_id] = worker_id
        self._running[ticket.ticket_id] = asyncio.create_task(self._work(ticket, worker_id))

    def _can_take(self, ticket: ExecutionTicket, profile: WorkerProfile) -> bool:
        return (
            set(ticket.required_capabilities) <= profile.capabilities
            and SECURITY_RANK[profile.security_level] >= SECURITY_RANK[ticket.security_level]
            and self.load.get(profile.worker_id, 0) < profile.max_concurrent_tasks
        )

    async def _volunteer(self, ticket: ExecutionTicket) -> None:
        """An unassigned ticket is run, as a real agent would, by an agent that has the
        capabilities, the clearance and a free slot, once one has: never beyond capacity."""
        while True:
            able = [p for p in self.profiles.values() if self._can_take(ticket, p)]
            if able:
                worker_id = min(able, key=lambda p: self.load.get(p.worker_id, 0)).worker_id
                self._owner[ticket.ticket_id] = worker_id
                await self._work(ticket, worker_id)
                return
            self._slot_freed.clear()
            await self._slot_freed.wait()

    def _load_changed(self, worker_id: str, step: int) -> None:
        load = self.load[worker_id] = self.load.get(worker_id, 0) + step
        if load > self.peak.get(worker_id, 0):
            self.peak[worker_id] = load
            metrics.DEMO_AGENT_PEAK_LOAD.labels(worker_id).set(load)
        if step < 0:
            self._slot_freed.set()
        if step > 0 and load > self.profiles[worker_id].max_concurrent_tasks:
            self.over_capacity_events += 1
            metrics.DEMO_AGENT_OVER_CAPACITY.labels(worker_id).inc()
            log.error("demo_agent_over_capacity", worker_id=worker_id, load=load)

    async def _work(self, ticket: ExecutionTicket, worker_id: str) -> None:
        seconds = (ticket.estimated_duration_ms or 1_000) / 1000 * self.speed
        started = time.monotonic()
        self._load_changed(worker_id, 1)
        try:
            await asyncio.sleep(seconds)
        finally:
            # The work is over once the result is ready: the slot may be reused from the moment
            # the result is out, which can be before the bus confirms it to this agent.
            self._load_changed(worker_id, -1)
        ok = self._rng.random() >= self.failure_rate
        result = ExecutionResult(
            ticket_id=ticket.ticket_id,
            status=ResultStatus.COMPLETED if ok else ResultStatus.FAILED,
            result=ExecutionResultPayload(
                success=ok,
                output={"agent": worker_id},
                metadata={"workflow_id": ticket.workflow_id},
                logs=[f"{ticket.task_type.value} {ticket.task_id} by {worker_id}"],
            ),
            error_message=None if ok else "simulated failure",
            actual_duration_ms=int((time.monotonic() - started) * 1000),
            agent_id=worker_id,
            timestamp=int(time.time() * 1000),
        )
        try:
            await self.bus.publish(
                self.results_topic, result.model_dump_json().encode(), key=ticket.ticket_id
            )
        except OrchestratorError as exc:
            log.warning("demo_agent_result_lost", ticket_id=ticket.ticket_id, reason=str(exc))
        finally:
            self._running.pop(ticket.ticket_id, None)
            self._owner.pop(ticket.ticket_id, None)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for worker_id in self.profiles:
                active = sum(1 for owner in self._owner.values() if owner == worker_id)
                with contextlib.suppress(OrchestratorError):
                    await self.registry.heartbeat(worker_id, active)

"""The demo agents record their own load against the capacity they registered, and take an
unassigned ticket (published when every able worker was full) only with a free slot."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import structlog
import structlog.testing

from orchestrator_dynamic.adapters.registry.builtin import BuiltinRegistry
from orchestrator_dynamic.domain.ports import BusMessage, MessageBus
from orchestrator_dynamic.entrypoints.demo_agents import DemoAgentPool
from tests.fakes import RecordingPublisher
from tests.scheduling_factory import ticket


def message(capabilities: list[str], metadata: dict[str, str] | None = None) -> BusMessage:
    value = ticket(capabilities=capabilities, metadata=metadata).model_dump_json().encode()
    return BusMessage("execution.tickets", value, key=b"k")


async def until_results(bus: RecordingPublisher, count: int) -> list[dict[str, Any]]:
    enough = asyncio.Event()

    async def counted(_: object) -> None:
        if len(bus.topic("execution.results")) >= count:
            enough.set()

    bus.on("execution.results", counted)
    await asyncio.wait_for(enough.wait(), 10)
    return [json.loads(r.value) for r in bus.topic("execution.results")]


async def test_unassigned_tickets_never_take_an_agent_past_its_capacity() -> None:
    bus = RecordingPublisher()
    pool = DemoAgentPool(cast(MessageBus, bus), BuiltinRegistry(), count=1, speed=0.03)
    for _ in range(20):
        pool._take(message(["testing"]))
    results = await until_results(bus, 20)
    assert {r["agent_id"] for r in results} == {"demo-agent-1"}
    assert pool.peak["demo-agent-1"] == pool.profiles["demo-agent-1"].max_concurrent_tasks
    assert pool.over_capacity_events == 0


async def test_allocated_tickets_beyond_capacity_are_counted_over_capacity() -> None:
    """The agents' record is what proves the scheduler right: a scheduler that allocated too
    many tickets to one agent shows here."""
    bus = RecordingPublisher()
    pool = DemoAgentPool(cast(MessageBus, bus), BuiltinRegistry(), count=1, speed=0.03)
    with structlog.testing.capture_logs() as logs:
        for _ in range(10):
            pool._take(message(["testing"], {"worker_id": "demo-agent-1"}))
        await until_results(bus, 10)
    assert pool.peak["demo-agent-1"] == 10
    assert pool.over_capacity_events == 2
    assert [e["load"] for e in logs if e["event"] == "demo_agent_over_capacity"] == [9, 10]


async def test_an_unassigned_ticket_no_agent_can_run_waits() -> None:
    bus = RecordingPublisher()
    pool = DemoAgentPool(cast(MessageBus, bus), BuiltinRegistry(), count=1, speed=0.01)
    pool._take(message(["deployment"]))  # demo-agent-1 cannot deploy
    await asyncio.sleep(0.1)
    assert bus.topic("execution.results") == []
    for task in pool._running.values():
        task.cancel()

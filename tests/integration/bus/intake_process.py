"""An intake as its own process, for the kill test: local bus file -> DecisionIntake -> Temporal.

Usage: python -m tests.integration.bus.intake_process BUS_DB TARGET NAMESPACE TASK_QUEUE TOPIC
DLQ GROUP. The Flow C worker runs elsewhere (the test process) on TASK_QUEUE.
"""

from __future__ import annotations

import asyncio
import sys

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.adapters.store.memory import MemoryStore
from orchestrator_dynamic.bootstrap import connect_temporal
from orchestrator_dynamic.flow.gateway import FlowGateway
from orchestrator_dynamic.flow.payloads import FlowOptions
from orchestrator_dynamic.services.dead_letters import DeadLetters
from orchestrator_dynamic.services.intake import DecisionIntake
from orchestrator_dynamic.services.operations import Operations
from tests.integration.bus.intake_rig import decode_decision
from tests.integration.flow.harness import now_ms


async def main(argv: list[str]) -> None:
    bus_db, target, namespace, task_queue, topic, dlq, group = argv
    client = await connect_temporal(target, namespace)
    store = MemoryStore()
    options = FlowOptions(retry_initial_ms=20, retry_backoff=2.0, retry_max_ms=100)
    gateway = FlowGateway(client, task_queue, store, lambda: options, now_ms)
    bus = LocalBus(bus_db)
    await bus.start()
    intake = DecisionIntake(
        await bus.subscribe([topic], group),
        DeadLetters(bus, dlq),
        decode_decision,
        Operations(gateway, store, now_ms),
    )
    print("ready", flush=True)
    await intake.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

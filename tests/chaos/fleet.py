"""The worker agents of the topology, in one process of their own: the gRPC Service Registry
stand-in every orchestrator replica discovers them in, demo agents that run the tickets, and two
records the campaign reads:

- the concurrent load of each agent (over capacity = more tickets running at once than the agent
  registered as its ``max_concurrent_tasks``);
- every ticket read off the bus, by (ticket id, attempt, status): two different contents under
  one key is a duplicate publication the orchestrator must never make.

Run as ``python -m tests.chaos.fleet --bootstrap HOST:PORT --registry-port P --stats FILE``; the
stats file is rewritten (atomically) every half second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from orchestrator_dynamic.adapters.registry.grpc import GrpcRegistry
from orchestrator_dynamic.domain.model import ExecutionTicket, TicketStatus
from orchestrator_dynamic.domain.ports import BusMessage
from orchestrator_dynamic.entrypoints.demo_agents import DemoAgentPool
from tests.servers.service_registry import RegistryServer


@dataclass
class RecordingPool(DemoAgentPool):
    """The demo agents (which record their own load against capacity), reading every ticket."""

    contents: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    retried: set[str] = field(default_factory=set)
    unassigned: set[str] = field(default_factory=set)

    def _take(self, message: BusMessage) -> None:
        self._record(message)
        super()._take(message)

    def _record(self, message: BusMessage) -> None:
        try:
            ticket = ExecutionTicket.model_validate_json(message.value)
        except ValueError:
            return
        key = f"{ticket.ticket_id}|{ticket.retry_count}|{ticket.status.value}"
        if ticket.retry_count:
            self.retried.add(ticket.ticket_id)
        if ticket.status is TicketStatus.PENDING and not ticket.metadata.get("worker_id"):
            self.unassigned.add(ticket.ticket_id)
        canonical = json.dumps(json.loads(message.value), sort_keys=True).encode()
        self.contents[key].add(hashlib.sha256(canonical).hexdigest())

    def stats(self) -> dict[str, object]:
        return {
            "tickets_seen": len(self.contents),
            "two_contents": sorted(k for k, v in self.contents.items() if len(v) > 1),
            "peak": dict(self.peak),
            "capacity": {w: p.max_concurrent_tasks for w, p in self.profiles.items()},
            "over_capacity_events": self.over_capacity_events,
            "retried": len(self.retried),
            "unassigned": len(self.unassigned),
            "running": len(self._running),
        }


def write_stats(path: Path, pool: RecordingPool) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(pool.stats()))
    os.replace(tmp, path)


async def main(args: argparse.Namespace) -> None:
    registry_server = RegistryServer()
    registry_server.port = args.registry_port
    await registry_server.start()
    registry = GrpcRegistry(registry_server.target, 5.0)
    await registry.start()
    bus = KafkaBus(args.bootstrap, idempotent=False, group_membership=False)
    await bus.start()
    pool = RecordingPool(
        bus, registry, args.agents, speed=args.speed, heartbeat_s=2.0, seed=args.seed
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(pool.run())
    stats_path = Path(args.stats)
    try:
        while not stop.is_set():
            write_stats(stats_path, pool)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if running.done():
                running.result()  # the pool died: say why
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        write_stats(stats_path, pool)
        await bus.stop()
        await registry.stop()
        await registry_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry-port", type=int, required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--speed", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main(parser.parse_args()))

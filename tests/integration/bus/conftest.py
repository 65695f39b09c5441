"""Bus tests: one tansu broker per session, and a factory over both bus adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.ports import BusMessage, MessageBus, Subscription
from orchestrator_dynamic.flow.payloads import FlowOptions
from tests.integration.flow.harness import FlowRig
from tests.servers.kafka import TansuBroker

FAST = FlowOptions(retry_initial_ms=20, retry_backoff=2.0, retry_max_ms=100)

BusFactory = Callable[[], Awaitable[MessageBus]]


@pytest.fixture(scope="session")
def tansu() -> Iterator[TansuBroker]:
    broker = TansuBroker()
    broker.start()
    yield broker
    broker.stop()


def kafka_bus(bootstrap: str, **kwargs: object) -> KafkaBus:
    """tansu has no idempotent producer; short timeouts keep failing tests short."""
    options: dict[str, object] = {
        "idempotent": False,
        "group_membership": False,
        "request_timeout_ms": 5_000,
    }
    options.update(kwargs)
    return KafkaBus(bootstrap, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "kafka"])
async def bus_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BusFactory]:
    """Makes started buses of one kind that share their storage (file or broker)."""
    started: list[MessageBus] = []
    broker: TansuBroker | None = (
        request.getfixturevalue("tansu") if request.param == "kafka" else None
    )

    async def make() -> MessageBus:
        bus: MessageBus = (
            LocalBus(tmp_path / "bus.db") if broker is None else kafka_bus(broker.bootstrap)
        )
        await bus.start()
        started.append(bus)
        return bus

    yield make
    for bus in reversed(started):
        await bus.stop()


def unique(name: str) -> str:
    """Topic and group names per test: the session broker outlives each test."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def poll_n(sub: Subscription, n: int, timeout_ms: int = 10_000) -> list[BusMessage]:
    """Poll until ``n`` records arrived (a broker may hand them out over several polls)."""
    import time

    out: list[BusMessage] = []
    deadline = time.monotonic() + timeout_ms / 1000
    while len(out) < n and time.monotonic() < deadline:
        out.extend(await sub.poll(max_records=n - len(out), timeout_ms=200))
    return out


def free_port_url() -> str:
    """A loopback address where nothing listens."""
    from tests.servers.kafka import free_port

    return f"127.0.0.1:{free_port()}"


@pytest.fixture
async def flow_rig(temporal_env: Any) -> AsyncIterator[FlowRig]:
    """Flow C on the session's Temporal dev server, with agents that answer at once."""
    rig = FlowRig(temporal_env.client, FAST, lambda ticket: True)
    rig.agent_delay_s = 0
    async with rig.worker:
        yield rig

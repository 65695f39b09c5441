"""What only the Kafka adapter does, against a real tansu broker."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from orchestrator_dynamic import bootstrap
from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.errors import BusUnavailable, MalformedMessage
from orchestrator_dynamic.settings import Settings
from tests.integration.bus.conftest import kafka_bus, poll_n, unique
from tests.servers.kafka import TansuBroker

pytestmark = pytest.mark.integration


async def test_group_membership_gets_partitions_from_the_broker(tansu: TansuBroker) -> None:
    bus = kafka_bus(tansu.bootstrap, group_membership=True)
    await bus.start()
    topic = unique("kafka.member")
    for i in range(3):
        await bus.publish(topic, f"m{i}".encode(), key="same")
    sub = await bus.subscribe([topic], unique("g"))
    got = await poll_n(sub, 3, timeout_ms=30_000)
    assert [m.value for m in got] == [b"m0", b"m1", b"m2"]
    await sub.commit(got[-1])
    assert await sub.lag() == 0
    await sub.close()
    await bus.stop()


async def test_idempotent_producer_on_a_broker_without_it_is_a_clear_error(
    tansu: TansuBroker,
) -> None:
    bus = kafka_bus(tansu.bootstrap, idempotent=True)
    with pytest.raises(BusUnavailable, match="idempotent"):
        await bus.start()
        await bus.publish(unique("kafka.idem"), b"x")
    await bus.stop()


async def test_a_record_above_the_request_size_is_refused_naming_the_value(
    tansu: TansuBroker,
) -> None:
    bus = kafka_bus(tansu.bootstrap)
    await bus.start()
    with pytest.raises(MalformedMessage) as info:
        await bus.publish(unique("kafka.big"), b"x" * (2 << 20))
    assert info.value.field == "value"
    await bus.stop()


async def test_publish_while_the_broker_is_down_is_bus_unavailable() -> None:
    broker = TansuBroker()
    broker.start()
    bus = kafka_bus(broker.bootstrap, request_timeout_ms=1_500)
    await bus.start()
    await bus.publish("kafka.down", b"before")
    broker.stop()
    try:
        with pytest.raises(BusUnavailable, match=r"kafka publish to kafka\.down"):
            await bus.publish("kafka.down", b"during")
    finally:
        broker.start()
    await bus.publish("kafka.down", b"after")  # the same client reconnects by itself
    await bus.stop()
    broker.stop()


async def test_open_bus_picks_kafka_when_bootstrap_servers_is_set(
    tansu: TansuBroker, tmp_path: Path
) -> None:
    settings = Settings(
        kafka_bootstrap_servers=tansu.bootstrap,
        kafka_enable_idempotence=False,
        data_dir=tmp_path,
    )
    async with AsyncExitStack() as stack:
        bus = await bootstrap.open_bus(settings, stack)
        assert isinstance(bus, KafkaBus)
        await bus.ping()
    async with AsyncExitStack() as stack:
        local = await bootstrap.open_bus(Settings(data_dir=tmp_path), stack)
        assert isinstance(local, LocalBus)
    assert (tmp_path / "bus.db").exists()

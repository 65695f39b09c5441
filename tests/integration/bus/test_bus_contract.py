"""The MessageBus contract, passed by every adapter (local SQLite bus and Kafka on tansu)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.errors import BusUnavailable
from tests.integration.bus.conftest import BusFactory, free_port_url, kafka_bus, poll_n, unique

pytestmark = pytest.mark.integration


async def test_round_trip_keeps_value_key_headers_and_order(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    topic = unique("contract.roundtrip")
    for i in range(3):
        await bus.publish(topic, f"v{i}".encode(), key=f"k{i}", headers={"traceparent": f"t{i}"})
    sub = await bus.subscribe([topic], unique("g"))
    got = await poll_n(sub, 3)
    assert [m.value for m in got] == [b"v0", b"v1", b"v2"]
    assert [m.key for m in got] == [b"k0", b"k1", b"k2"]
    assert [m.header("traceparent") for m in got] == ["t0", "t1", "t2"]
    assert all(m.topic == topic for m in got)
    assert [m.offset for m in got] == sorted(m.offset for m in got)
    assert len({m.offset for m in got}) == 3
    await sub.close()


async def test_record_without_key_or_headers(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    topic = unique("contract.bare")
    await bus.publish(topic, b"\x00\x01binary")
    sub = await bus.subscribe([topic], unique("g"))
    [message] = await poll_n(sub, 1)
    assert (message.value, message.key, message.headers) == (b"\x00\x01binary", None, ())
    await sub.close()


async def test_uncommitted_records_go_to_the_next_consumer_of_the_group(
    bus_factory: BusFactory,
) -> None:
    bus = await bus_factory()
    topic, group = unique("contract.redeliver"), unique("g")
    for i in range(5):
        await bus.publish(topic, f"m{i}".encode())
    first = await bus.subscribe([topic], group)
    got = await poll_n(first, 5)
    await first.commit(got[1])  # m0 and m1 processed; m2..m4 fetched but not committed
    await first.close()
    second = await bus.subscribe([topic], group)
    again = await poll_n(second, 3)
    assert [m.value for m in again] == [b"m2", b"m3", b"m4"]
    assert await second.poll(max_records=10, timeout_ms=300) == []
    await second.close()


async def test_separate_groups_each_see_every_record(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    topic = unique("contract.groups")
    for i in range(4):
        await bus.publish(topic, f"m{i}".encode())
    one = await bus.subscribe([topic], unique("g1"))
    got_one = await poll_n(one, 4)
    await one.commit(got_one[-1])
    two = await bus.subscribe([topic], unique("g2"))
    got_two = await poll_n(two, 4)
    assert [m.value for m in got_one] == [m.value for m in got_two] == [b"m0", b"m1", b"m2", b"m3"]
    await one.close()
    await two.close()


async def test_lag_counts_records_not_committed_by_the_group(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    topic, group = unique("contract.lag"), unique("g")
    sub = await bus.subscribe([topic], group)
    assert await sub.lag() == 0
    for i in range(4):
        await bus.publish(topic, f"m{i}".encode())
    assert await sub.lag() == 4
    got = await poll_n(sub, 4)
    assert await sub.lag() == 4, "fetched is not processed: lag moves on commit only"
    await sub.commit(got[1])
    assert await sub.lag() == 2
    await sub.commit(got[3])
    assert await sub.lag() == 0
    await sub.close()


async def test_one_subscription_reads_several_topics(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    a, b = unique("contract.a"), unique("contract.b")
    await bus.publish(a, b"from-a")
    await bus.publish(b, b"from-b")
    sub = await bus.subscribe([a, b], unique("g"))
    got = await poll_n(sub, 2)
    assert sorted((m.topic, m.value) for m in got) == [(a, b"from-a"), (b, b"from-b")]
    await sub.close()


async def test_publish_before_start_is_bus_unavailable(tmp_path: Path) -> None:
    for bus in (LocalBus(tmp_path / "bus.db"), kafka_bus("127.0.0.1:1")):
        with pytest.raises(BusUnavailable):
            await bus.publish("t", b"x")


async def test_unreachable_storage_is_bus_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BusUnavailable):
        await LocalBus(blocker / "bus.db").start()
    with pytest.raises(BusUnavailable):
        await kafka_bus(free_port_url(), request_timeout_ms=1_000).start()


async def test_local_bus_keeps_records_and_offsets_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    bus = LocalBus(path)
    await bus.start()
    for i in range(3):
        await bus.publish("durable", f"m{i}".encode(), key="k")
    sub = await bus.subscribe(["durable"], "g")
    got = await poll_n(sub, 3)
    await sub.commit(got[0])
    await bus.stop()
    reopened = LocalBus(path)
    await reopened.start()
    sub = await reopened.subscribe(["durable"], "g")
    assert [m.value for m in await poll_n(sub, 2)] == [b"m1", b"m2"]
    assert await sub.lag() == 2
    await reopened.stop()


async def test_produced_counter_and_lag_gauge_move(bus_factory: BusFactory) -> None:
    bus = await bus_factory()
    topic, group = unique("contract.metrics"), unique("g")
    for _ in range(3):
        await bus.publish(topic, b"x")
    produced = {"topic": topic}
    assert REGISTRY.get_sample_value("orchestration_kafka_messages_produced_total", produced) == 3
    sub = await bus.subscribe([topic], group)
    await sub.lag()
    labels = {"topic": topic, "group": group}
    assert REGISTRY.get_sample_value("orchestration_kafka_consumer_lag", labels) == 3
    got = await poll_n(sub, 3)
    await sub.commit(got[-1])
    await sub.lag()
    assert REGISTRY.get_sample_value("orchestration_kafka_consumer_lag", labels) == 0
    await sub.close()

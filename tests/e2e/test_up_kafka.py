"""`up` on Kafka: with KAFKA_BOOTSTRAP_SERVERS set, decisions arrive and tickets leave on a broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.bus.kafka import KafkaBus
from tests.conftest import DECISIONS, decision_doc
from tests.e2e.service import Service
from tests.servers.kafka import TansuBroker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    tansu = TansuBroker()
    tansu.start()
    yield tansu
    tansu.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, broker: TansuBroker) -> Iterator[Service]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_ENABLE_IDEMPOTENCE": "false"}
    svc = Service(tmp_path_factory.mktemp("up-kafka"), env)
    svc.start()
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


def on_kafka(bootstrap: str, work: Any) -> Any:
    async def run() -> Any:
        bus = KafkaBus(bootstrap, idempotent=False, group_membership=False)
        await bus.start()
        try:
            return await work(bus)
        finally:
            await bus.stop()

    return asyncio.run(run())


def test_a_decision_on_kafka_runs_and_a_bad_one_is_dead_lettered(
    service: Service, broker: TansuBroker
) -> None:
    doc = decision_doc("approve-5-task-dag")
    doc["decision_id"] = "dec-kafka-1"
    good = json.dumps(doc).encode()
    bad = (DECISIONS / "malformed-fields.json").read_bytes()

    async def publish(bus: KafkaBus) -> None:
        await bus.publish("plans.consensus", bad, key="bad")
        await bus.publish("plans.consensus", good, key="dec-kafka-1")

    on_kafka(broker.bootstrap, publish)
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline and status != "COMPLETED":
        code, view = service.cli_json("status", "dec-kafka-1")
        status = view.get("status") if code == 0 else None
        time.sleep(0.3)
    assert status == "COMPLETED", Path(service.log).read_text()[-3000:]

    async def read(bus: KafkaBus) -> tuple[list[Any], list[Any]]:
        letters = await bus.subscribe(["plans.consensus.dlq"], "test-dlq-reader")
        tickets = await bus.subscribe(["execution.tickets"], "test-ticket-reader")
        try:
            return await letters.poll(10, 5_000), await tickets.poll(500, 5_000)
        finally:
            await letters.close()
            await tickets.close()

    letters, tickets = on_kafka(broker.bootstrap, read)
    [letter] = letters
    assert letter.value == bad
    assert letter.header("dlq.field") == "decision_id"
    assert letter.header("dlq.source.topic") == "plans.consensus"
    ours = [t for t in tickets if json.loads(t.value)["decision_id"] == "dec-kafka-1"]
    assert len({json.loads(t.value)["task_id"] for t in ours}) == 5
    assert all(t.key and t.header("traceparent") for t in ours), "keyed, with trace context"

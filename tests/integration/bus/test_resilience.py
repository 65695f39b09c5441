"""No decision lost or started twice when the broker, or the intake process, goes away.

What the Kafka test can honestly show with tansu: tansu keeps topics and group offsets in memory,
so a restarted tansu starts empty. A record the broker confirmed but nobody consumed before the
stop is lost with it; keeping such records is the durability of a real Kafka cluster (replicated
logs), not something the orchestrator can add. So the broker is stopped once the intake caught up
with what was confirmed, while the producer keeps going. The test then shows what is ours: publishes
during the outage fail loudly (BusUnavailable, never a silent drop) and go through after the restart
on the same client; the intake process survives the outage, reconnects, finds its position past
the end of the fresh log, starts again from its beginning and consumes every new record; commits
lost with the broker only cause redeliveries, and each decision is still started exactly once.
The stop comes after decision 120 of 200 so that the intake's position (120) is beyond anything
the fresh log reaches (80 records): the broker then answers "offset out of range" and the intake
resets to the start of the new log. At a 100/100 split the new log could reach exactly the old
position without the intake noticing, an artefact of a broker that forgets its logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.bus.local import LocalBus
from orchestrator_dynamic.domain.errors import BusUnavailable
from orchestrator_dynamic.domain.ports import MessageBus
from tests.integration.bus.conftest import kafka_bus
from tests.integration.bus.intake_rig import IntakeRig, renamed, suffix
from tests.integration.flow.harness import FlowRig
from tests.servers.kafka import TansuBroker

pytestmark = pytest.mark.integration

TOTAL = 200
OUTAGE_S = 20.0
STOP_AT = 120  # see the module docstring: past what the fresh log can reach after the restart
FIXTURE = "review-required"  # starts a workflow that then waits: cheap for the dev server


async def publish_until_confirmed(bus: MessageBus, topic: str, raw: bytes, key: str) -> int:
    """An upstream producer: retries until the bus confirmed; returns the failed attempts."""
    failures = 0
    while True:
        try:
            await bus.publish(topic, raw, key=key)
            return failures
        except BusUnavailable:
            failures += 1
            await asyncio.sleep(0.2)


async def runs_per_decision(flow: FlowRig, prefix: str, expected: int) -> Counter[str]:
    """Workflow runs on the rig's task queue, per workflow id (visibility is eventually
    consistent: wait until every expected id shows up)."""
    runs: Counter[str] = Counter()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = Counter()
        query = f"TaskQueue = '{flow.task_queue}'"
        async for execution in flow.client.list_workflows(query):
            if prefix in execution.id:
                runs[execution.id] += 1
        if len(runs) >= expected:
            break
        await asyncio.sleep(0.5)
    return runs


async def terminate_all(flow: FlowRig, ids: list[str]) -> None:
    for workflow_id in ids:
        with contextlib.suppress(Exception):
            await flow.client.get_workflow_handle(workflow_id).terminate("test over")


async def restart_after(broker: TansuBroker, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await asyncio.to_thread(broker.start)


def decisions(run: str) -> list[tuple[str, bytes]]:
    out = []
    for i in range(TOTAL):
        decision_id, raw = renamed(FIXTURE, f"{run}-{i:03d}")
        out.append((decision_id, raw))
    return out


async def test_broker_stopped_for_20_s_in_the_middle_of_200_decisions(flow_rig: FlowRig) -> None:
    broker = TansuBroker()
    broker.start()
    bus = kafka_bus(broker.bootstrap, request_timeout_ms=2_000)
    await bus.start()
    rig = IntakeRig(bus, flow_rig)
    intake = await rig.decision_intake()
    consuming = asyncio.create_task(intake.run())
    run = f"outage-{suffix()}"
    batch = decisions(run)
    failed_attempts = 0
    outage_seen_s = 0.0
    try:
        for i, (decision_id, raw) in enumerate(batch):
            if i == STOP_AT:
                caught_up = time.monotonic() + 30
                while intake.handled < i:  # see the module docstring
                    assert time.monotonic() < caught_up, "the intake fell behind"
                    await asyncio.sleep(0.05)
                broker.stop()
                stopped = time.monotonic()
                restart = asyncio.create_task(restart_after(broker, OUTAGE_S))
                failed_attempts += await publish_until_confirmed(
                    bus, rig.topics.decisions, raw, decision_id
                )
                outage_seen_s = time.monotonic() - stopped
                await restart
                continue
            failed_attempts += await publish_until_confirmed(
                bus, rig.topics.decisions, raw, decision_id
            )
        deadline = time.monotonic() + 60
        while intake.handled < TOTAL:
            assert time.monotonic() < deadline, f"intake handled {intake.handled}/{TOTAL}"
            await asyncio.sleep(0.1)
    finally:
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
    assert failed_attempts > 0 and outage_seen_s >= OUTAGE_S, "the producer saw the outage"
    assert intake.dead_lettered == 0
    runs = await runs_per_decision(flow_rig, run, TOTAL)
    missing = {d for d, _ in batch} - set(runs)
    assert not missing, f"lost: {sorted(missing)[:5]} ({len(missing)})"
    assert set(runs) == {d for d, _ in batch}
    assert set(runs.values()) == {1}, "none started twice"
    await terminate_all(flow_rig, list(runs))
    await bus.stop()
    broker.stop()


class IntakeProcess:
    """``intake_process`` as a child process, killed with SIGKILL like a crashed host."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.bus.intake_process", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).parents[3],
                env={**os.environ, "LOG_LEVEL": "WARNING"},
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


async def committed_at_least(sub: Any, total: int, done: int, proc: IntakeProcess) -> None:
    deadline = time.monotonic() + 90
    while total - await sub.lag() < done:
        assert proc.alive(), proc.log.read_text(errors="replace")[-2000:]
        assert time.monotonic() < deadline, f"only {total - await sub.lag()} committed"
        await asyncio.sleep(0.05)


async def test_intake_process_killed_and_restarted_loses_and_repeats_nothing(
    flow_rig: FlowRig, temporal_env: Any, tmp_path: Path
) -> None:
    bus = LocalBus(tmp_path / "bus.db")
    await bus.start()
    rig = IntakeRig(bus, flow_rig)
    run = f"kill-{suffix()}"
    batch = decisions(run)
    for decision_id, raw in batch:
        await bus.publish(rig.topics.decisions, raw, key=decision_id)
    watcher = await bus.subscribe([rig.topics.decisions], rig.topics.group)
    target = temporal_env.client.service_client.config.target_host
    args = [str(tmp_path / "bus.db"), target, temporal_env.client.namespace, flow_rig.task_queue]
    args += [rig.topics.decisions, rig.topics.dlq, rig.topics.group]
    process = IntakeProcess(args, tmp_path / "intake.log")
    process.start()
    try:
        await committed_at_least(watcher, TOTAL, 60, process)
        process.kill()  # mid-stream: some starts acknowledged and not yet committed, maybe
        killed_at = TOTAL - await watcher.lag()
        assert killed_at < TOTAL, "killed before the end"
        process.start()
        await committed_at_least(watcher, TOTAL, TOTAL, process)
    finally:
        if process.alive():
            process.kill()
    runs = await runs_per_decision(flow_rig, run, TOTAL)
    missing = {d for d, _ in batch} - set(runs)
    assert not missing, f"lost: {sorted(missing)[:5]} ({len(missing)})"
    assert set(runs.values()) == {1}, "none started twice"
    await terminate_all(flow_rig, list(runs))
    await bus.stop()

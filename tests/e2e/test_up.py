"""The service as a user runs it: `up` as a process, driven through the CLI and the bus."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator_dynamic.adapters.bus.local import LocalBus
from tests.conftest import DECISIONS, decision_doc
from tests.e2e.service import Service

pytestmark = pytest.mark.e2e

OUTCOMES = {
    "approve-5-task-dag": "COMPLETED",
    "critical-security-3-task": "COMPLETED",
    "low-risk-lowercase-types": "COMPLETED",
    "conditional-approval": "COMPLETED",
    "hash-mismatch": "COMPLETED",
    "large-100-task-dag": "COMPLETED",
    "invalid-cycle": "REFUSED",
    "invalid-unknown-dependency": "REFUSED",
    "invalid-expired-plan": "REFUSED",
    "invalid-duplicate-task-id": "REFUSED",
    "invalid-no-tasks": "REFUSED",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("up"))
    svc.start()
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_every_fixture_through_the_cli(service: Service, name: str) -> None:
    code, doc = service.cli_json("submit", str(DECISIONS / f"{name}.json"), "--wait")
    assert doc["status"] == OUTCOMES[name], doc
    assert code == (0 if OUTCOMES[name] == "COMPLETED" else 3)
    if OUTCOMES[name] == "COMPLETED":
        assert doc["tickets"] and all(t["status"] == "COMPLETED" for t in doc["tickets"])
        assert all(t["worker_id"] for t in doc["tickets"])
    else:
        assert doc["tickets"] == []


def test_rejected_decision_is_skipped(service: Service) -> None:
    code, doc = service.cli_json("submit", str(DECISIONS / "rejected.json"))
    assert code == 0 and doc["disposition"] == "skipped"


def test_malformed_files_are_refused_naming_the_field(service: Service) -> None:
    proc = service.cli("submit", str(DECISIONS / "malformed-fields.json"))
    assert proc.returncode == 2
    assert "decision_id" in proc.stderr and "aggregated_confidence" in proc.stderr


def test_review_required_waits_then_approve_runs_it(service: Service) -> None:
    _code, doc = service.cli_json("submit", str(DECISIONS / "review-required.json"), "--wait")
    assert doc["status"] == "AWAITING_APPROVAL"
    approve = service.cli("approve", doc["workflow_id"], "--reason", "CAB ok")
    assert approve.returncode == 0, approve.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, view = service.cli_json("status", doc["workflow_id"])
        if view["status"] == "COMPLETED":
            break
        time.sleep(0.3)
    assert view["status"] == "COMPLETED"
    listing = service.cli("list", "--status", "COMPLETED")
    assert doc["workflow_id"] in listing.stdout


def bus_call(path: Path, coro: Any) -> Any:
    async def run() -> Any:
        bus = LocalBus(path)
        await bus.start()
        try:
            return await coro(bus)
        finally:
            await bus.stop()

    return asyncio.run(run())


def test_decisions_on_the_bus_run_and_bad_ones_are_dead_lettered(service: Service) -> None:
    doc = decision_doc("approve-5-task-dag")
    doc["decision_id"] = "dec-bus-1"
    good = json.dumps(doc).encode()
    bad = (DECISIONS / "malformed-plan-json.json").read_bytes()

    async def publish(bus: LocalBus) -> None:
        await bus.publish("plans.consensus", bad, key="bad")
        await bus.publish("plans.consensus", good, key="dec-bus-1")

    bus_call(service.data_dir / "bus.db", publish)
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        code, view = service.cli_json("status", "dec-bus-1")
        status = view.get("status") if code == 0 else None
        if status == "COMPLETED":
            break
        time.sleep(0.3)
    assert status == "COMPLETED"

    async def dead_letters(bus: LocalBus) -> list[Any]:
        sub = await bus.subscribe(["plans.consensus.dlq"], "test-reader")
        return await sub.poll(10, 2_000)

    [letter] = bus_call(service.data_dir / "bus.db", dead_letters)
    assert letter.value == bad
    assert "cognitive_plan" in (letter.header("dlq.reason") or "")
    assert letter.header("dlq.source.topic") == "plans.consensus"


def test_ctrl_c_stops_cleanly_and_a_restart_resumes(tmp_path: Path) -> None:
    svc = Service(tmp_path / "resume")
    svc.start()
    _code, doc = svc.cli_json("submit", str(DECISIONS / "review-required.json"), "--wait")
    assert doc["status"] == "AWAITING_APPROVAL"
    assert svc.stop(signal.SIGINT) == 0
    assert "stopped" in svc.log.read_text()
    svc.start()
    try:
        _, view = svc.cli_json("status", doc["workflow_id"])
        assert view["status"] == "AWAITING_APPROVAL"
        assert svc.cli("approve", doc["workflow_id"]).returncode == 0
        deadline = time.monotonic() + 60
        while view["status"] != "COMPLETED" and time.monotonic() < deadline:
            time.sleep(0.3)
            _, view = svc.cli_json("status", doc["workflow_id"])
        assert view["status"] == "COMPLETED"
    finally:
        assert svc.stop() == 0


def test_sigkill_mid_dispatch_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """The orchestrator process dies with tickets in flight; after a restart the workflow
    completes, every ticket completes once, and no ticket id was ever published with two
    different contents for the same attempt."""
    env = {"DEMO_WORKER_SPEED": "0.01"}  # t1 takes ~1.2 s: time to kill mid-flight
    svc = Service(tmp_path / "crash", env)
    svc.start()
    try:
        accepted = svc.cli_json("submit", str(DECISIONS / "approve-5-task-dag.json"))[1]
        workflow_id = accepted["workflow_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, view = svc.cli_json("status", workflow_id)
            if any(t["status"] == "COMPLETED" for t in view["tickets"]):
                break
            time.sleep(0.1)
        svc.kill()
        svc.start()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            _, view = svc.cli_json("status", workflow_id)
            if view["status"] == "COMPLETED":
                break
            time.sleep(0.3)
        assert view["status"] == "COMPLETED", view
        assert all(t["status"] == "COMPLETED" for t in view["tickets"])
    finally:
        if svc.proc is not None:
            svc.stop()
        svc.stop_engine()

    async def published(bus: LocalBus) -> list[Any]:
        sub = await bus.subscribe(["execution.tickets"], "audit")
        return await sub.poll(1_000, 2_000)

    contents: dict[tuple[str, int, str], set[bytes]] = {}
    for record in bus_call(svc.data_dir / "bus.db", published):
        ticket = json.loads(record.value)
        key = (ticket["ticket_id"], ticket["retry_count"], ticket["status"])
        contents.setdefault(key, set()).add(record.value)
    assert contents and all(len(v) == 1 for v in contents.values())

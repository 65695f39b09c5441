"""`up` as a user runs it: its embedded engine knows our search attributes from the start, so
an operator finds a plan's workflow with a visibility query (as the Temporal UI does)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from temporalio.client import Client

from tests.conftest import DECISIONS, decision_doc
from tests.e2e.service import Service

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = Service(tmp_path_factory.mktemp("up-search"))
    svc.start(demo_workers=2)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


async def matching(port: str, query: str, within_s: float = 15.0) -> list[str]:
    """Workflow ids for the query once visibility caught up (it is eventually consistent)."""
    client = await Client.connect(f"127.0.0.1:{port}")
    async with asyncio.timeout(within_s):
        while True:
            ids = sorted([w.id async for w in client.list_workflows(query)])
            if ids:
                return ids
            await asyncio.sleep(0.1)


def test_a_submitted_plans_workflow_is_found_by_each_attribute(service: Service) -> None:
    # Each data directory is its own engine: only these two decisions are in it.
    names = {"approve-5-task-dag": "high", "conditional-approval": "medium"}
    for name in names:
        code, doc = service.cli_json("submit", str(DECISIONS / f"{name}.json"), "--wait")
        assert code == 0 and doc["status"] == "COMPLETED", doc
    port = service.env["TEMPORAL_PORT"]
    for name, band in names.items():
        doc = decision_doc(name)
        for query in (
            f'NeuralHivePlanId = "{doc["plan_id"]}"',
            f'NeuralHiveIntentId = "{doc["intent_id"]}"',
            f'NeuralHiveRiskBand = "{band}"',
            f'NeuralHiveFinalDecision = "{doc["final_decision"]}"',
        ):
            assert asyncio.run(matching(port, query)) == [doc["decision_id"]], query
    assert "search_attributes" not in service.log.read_text()  # nothing to warn about

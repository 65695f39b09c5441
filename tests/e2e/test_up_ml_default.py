"""`up` on its real defaults, ML included (the rest of the suite turns ML off for speed): every
ticket of a plan carries the C3 predictions, from the heuristic while no model is trained."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator_dynamic.domain.ml import predictions_of
from tests.conftest import DECISIONS
from tests.e2e.service import Service

pytestmark = pytest.mark.e2e


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path / "up")
    svc.env = {k: v for k, v in svc.env.items() if k != "ML_PREDICTIONS_ENABLED"}
    assert "ML_PREDICTIONS_ENABLED" not in svc.env and "ML_PREDICTIONS_ENABLED" in os.environ
    svc.start(timeout_s=120)
    yield svc
    assert svc.stop() == 0, svc.log.read_text()


def test_up_predicts_every_ticket_by_default(service: Service) -> None:
    code, doc = service.cli_json("submit", str(DECISIONS / "approve-5-task-dag.json"), "--wait")
    assert code == 0 and doc["status"] == "COMPLETED", doc
    assert len(doc["tickets"]) == 5
    for listed in doc["tickets"]:
        reply = httpx.get(f"{service.url}/api/v1/tickets/{listed['ticket_id']}", timeout=10)
        assert reply.status_code == 200, reply.text
        ticket = reply.json()["ticket"]
        predicted = predictions_of(ticket["metadata"])
        assert predicted is not None, ticket["metadata"]
        assert predicted.duration_ms > 0
        assert ticket["metadata"]["predicted_duration_ms"]

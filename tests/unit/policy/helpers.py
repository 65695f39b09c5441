"""Decision fixtures turned into plans and tickets, at a fixed clock, for policy tests."""

from __future__ import annotations

import json
from typing import Any

from orchestrator_dynamic.services.planning import PlannedDecision, plan_document
from tests.conftest import decision_doc


def clock_of(doc: dict[str, Any]) -> int:
    """Just after the decision was made, so expiry never depends on the day the tests run."""
    return int(doc["created_at"]) + 1_000


def planned(name: str, **plan_changes: Any) -> PlannedDecision:
    doc = decision_doc(name)
    if plan_changes:
        plan = json.loads(doc["cognitive_plan"])
        plan.update(plan_changes)
        doc["cognitive_plan"] = json.dumps(plan)
    return plan_document(doc, clock_of(doc))

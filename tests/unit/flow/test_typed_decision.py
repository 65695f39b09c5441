"""The decision travels through the workflow typed, on the same wire shape as the dict it
replaced: inputs recorded before (histories, queued activities) decode into the typed payload, and
new inputs are what an older worker would have read."""

from __future__ import annotations

import json
from typing import Any

from orchestrator_dynamic.domain.decode import parse_decision
from orchestrator_dynamic.domain.model import ConsolidatedDecision
from orchestrator_dynamic.flow.payloads import ConsolidateInput, FlowInput, WorkflowStatus
from orchestrator_dynamic.flow.worker import DATA_CONVERTER
from tests.conftest import decision_doc

CONVERT = DATA_CONVERTER.payload_converter


def wire(value: object) -> Any:
    return json.loads(CONVERT.to_payloads([value])[0].data)


def test_typed_decision_has_the_wire_shape_of_the_old_dict() -> None:
    decision = parse_decision(decision_doc("approve-5-task-dag"))
    old: Any = decision.model_dump(mode="json")
    assert wire(FlowInput(decision)) == wire(FlowInput(old))


def test_an_input_recorded_with_the_dict_decodes_typed() -> None:
    decision = parse_decision(decision_doc("approve-5-task-dag"))
    recorded = CONVERT.to_payloads([{"decision": decision.model_dump(mode="json")}])
    (inp,) = CONVERT.from_payloads(recorded, [FlowInput])
    assert isinstance(inp.decision, ConsolidatedDecision) and inp.decision == decision


def test_consolidation_input_without_the_plan_decodes_typed() -> None:
    """C5's input always left the plan out; such a recorded input still decodes."""
    doc = {k: v for k, v in decision_doc("approve-5-task-dag").items() if k != "cognitive_plan"}
    recorded = {
        "workflow_id": "w",
        "decision": doc,
        "status": WorkflowStatus.COMPLETED.value,
        "tickets": [],
        "compensations": [],
        "timed_out": [],
        "started_at_ms": 1,
        "finished_at_ms": 2,
    }
    (inp,) = CONVERT.from_payloads(CONVERT.to_payloads([recorded]), [ConsolidateInput])
    assert inp.decision.decision_id == doc["decision_id"] and inp.decision.cognitive_plan is None

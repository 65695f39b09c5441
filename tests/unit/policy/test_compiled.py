"""The compiled RVM program (what the embedded engine evaluates) decides exactly as the Rego
interpreter (what the Rego unit tests run on), over varied inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator_dynamic.adapters.policy.compile import CompiledPolicies, compile_policies
from orchestrator_dynamic.domain.errors import PolicyUnavailable
from orchestrator_dynamic.domain.model import SecurityLevel
from orchestrator_dynamic.services.policy import TICKET_PACKAGES, PlanContext, PolicyValidator
from orchestrator_dynamic.settings import DEFAULT_POLICY_DIR
from tests.unit.policy.helpers import planned

ENTRY_POINTS = ["data." + p.replace("/", ".") + ".decision" for p in TICKET_PACKAGES]
TUESDAY_2PM = 1_699_970_400_000


def documents() -> list[dict[str, Any]]:
    make = PolicyValidator(object()).input_document  # type: ignore[arg-type]
    docs = []
    for name in ("approve-5-task-dag", "critical-security-3-task", "low-risk-lowercase-types"):
        plan = planned(name)
        for ticket in plan.tickets:
            now = ticket.created_at + 1_000
            docs.append(make("ticket", now, [ticket], PlanContext.of(plan.plan)))
    first = planned("approve-5-task-dag").tickets[0]
    bad = first.model_copy(
        update={
            "parameters": {"cpu": "5", "memory": "9Gi"},
            "required_capabilities": ["x"],
            "security_level": SecurityLevel.RESTRICTED,
        }
    )
    late = make("plan", first.sla.deadline + 1, [bad], PlanContext(approved=False))
    late["worker"] = {"worker_id": "w", "security_level": "PUBLIC", "namespace": "other"}
    late["sla_budget"] = {"remaining": 0.1}
    late["context"] = {"tenant_tier": "premium", "load": 0.1, "queue_depth": 500}
    late["now_ms"] = TUESDAY_2PM
    docs.append(late)
    return docs


@pytest.mark.parametrize("index", range(len(documents())))
def test_compiled_program_matches_the_interpreter(index: int) -> None:
    doc = documents()[index]
    interpreter = compile_policies(DEFAULT_POLICY_DIR)
    interpreter.set_input(doc)
    expected = [json.loads(interpreter.eval_rule_as_json(e)) for e in ENTRY_POINTS]
    compiled = CompiledPolicies(DEFAULT_POLICY_DIR).decisions(ENTRY_POINTS, doc)
    assert compiled == expected


def test_some_documents_are_refused() -> None:
    """The comparison above covers refusals too, not only the happy path."""
    doc = documents()[-1]
    decisions = CompiledPolicies(DEFAULT_POLICY_DIR).decisions(ENTRY_POINTS, doc)
    assert [d["allow"] for d in decisions] == [False, False, False, True]
    assert decisions[3]["flags"]["auto_scaling"] is True


def test_unknown_package_is_refused() -> None:
    with pytest.raises(PolicyUnavailable, match="no policy defines"):
        CompiledPolicies(DEFAULT_POLICY_DIR).decisions(["data.nope.decision"], {})

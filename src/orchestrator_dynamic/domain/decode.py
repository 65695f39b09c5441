"""From wire documents to domain messages, with errors that name the field and the reason."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator_dynamic.domain.errors import Issue, MalformedMessage
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, ExecutionResult

M = TypeVar("M", bound=BaseModel)


def load_json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage([Issue("json.invalid", f"{what} is not valid JSON: {exc}")]) from exc
    if not isinstance(doc, dict):
        kind = type(doc).__name__
        raise MalformedMessage(
            [Issue("json.not_object", f"{what} must be a JSON object, not {kind}")]
        )
    return doc


def validate_model(model: type[M], doc: Any, prefix: str = "") -> M:
    """``model.model_validate`` with pydantic's errors turned into Issues naming each field."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise MalformedMessage(_issues(exc, prefix)) from exc


def _issues(exc: ValidationError, prefix: str) -> list[Issue]:
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path)
        if err["type"] == "missing":
            out.append(Issue("field.missing", "required field is missing", path))
        else:
            message = f"{err['msg']} (got {_short(err.get('input'))})"
            out.append(Issue("field.invalid", message, path))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_decision(doc: bytes | str | dict[str, Any]) -> ConsolidatedDecision:
    if not isinstance(doc, dict):
        doc = load_json_object(doc, "decision")
    return validate_model(ConsolidatedDecision, doc)


def parse_plan(decision: ConsolidatedDecision) -> CognitivePlan:
    """The decision's plan; one more ``cognitive_plan`` wrapper around it is flattened."""
    if decision.cognitive_plan is None:
        raise MalformedMessage(
            [Issue("field.missing", "the decision carries no plan", "cognitive_plan")]
        )
    try:
        doc = json.loads(decision.cognitive_plan)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at character {exc.pos})"
        raise MalformedMessage([Issue("plan.invalid_json", reason, "cognitive_plan")]) from exc
    if isinstance(doc, dict) and "tasks" not in doc and "cognitive_plan" in doc:
        inner = doc["cognitive_plan"]
        doc = json.loads(inner) if isinstance(inner, str) else inner
    if not isinstance(doc, dict):
        issue = Issue("plan.not_object", "must be a JSON object", "cognitive_plan")
        raise MalformedMessage([issue])
    return validate_model(CognitivePlan, doc, prefix="cognitive_plan")


def parse_result(doc: bytes | str | dict[str, Any]) -> ExecutionResult:
    if not isinstance(doc, dict):
        doc = load_json_object(doc, "execution result")
    return validate_model(ExecutionResult, doc)


HASHED_FIELDS = (
    "decision_id",
    "plan_id",
    "final_decision",
    "aggregated_confidence",
    "aggregated_risk",
    "specialist_votes",
)


def decision_hash(decision: ConsolidatedDecision) -> str:
    """The consensus service's integrity hash: SHA-256 of sorted-key JSON of a fixed field set,
    with ``created_at`` as a naive UTC ISO-8601 string."""
    doc = decision.model_dump(mode="json", include=set(HASHED_FIELDS))
    created = datetime.fromtimestamp(decision.created_at / 1000, tz=UTC).replace(tzinfo=None)
    doc["created_at"] = created.isoformat()
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def hash_matches(decision: ConsolidatedDecision) -> bool:
    return decision_hash(decision) == decision.hash

"""From wire documents to domain messages, with errors that name the field and the reason."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator_dynamic.domain.errors import Issue, MalformedMessage
from orchestrator_dynamic.domain.model import CognitivePlan, ConsolidatedDecision, ExecutionResult
from orchestrator_dynamic.domain.wire_values import EPOCH

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
VOTE_FIELDS = (
    "specialist_type",
    "opinion_id",
    "confidence_score",
    "risk_score",
    "recommendation",
    "weight",
    "processing_time_ms",
)
SENIORITY_FIELDS = ("seniority_level", "seniority_multiplier")
_CREATED = "\u2063created_at\u2063"  # a placeholder no real field value contains
_MICROS_PER_MS = 1_000


def decision_hash(decision: ConsolidatedDecision) -> str:
    """The consensus engine's integrity hash as its current ``calculate_hash`` computes it:
    SHA-256 of the sorted-key JSON (``ensure_ascii=False``) of the hashed fields, the votes with
    their seniority fields, and ``created_at`` as an aware UTC ISO-8601 string with microseconds
    (here the wire's millisecond, so the remainder is 0)."""
    prefix, suffix = _hash_template(decision, seniority=True, ensure_ascii=False)
    iso = _iso(decision.created_at * _MICROS_PER_MS, aware=True)
    return hashlib.sha256(f"{prefix}{json.dumps(iso)}{suffix}".encode()).hexdigest()


def hash_matches(decision: ConsolidatedDecision) -> bool:
    """Whether ``hash`` is the integrity hash of this decision in any form upstream writes it.

    Upstream hashes ``created_at`` with microseconds but the wire carries milliseconds, so every
    sub-millisecond remainder (0..999 µs, and the next millisecond, which its float truncation
    can lose) is tried before a hash is called wrong. The forms tried: votes with the seniority
    fields (current upstream) or without (older upstream, and the shared fixtures); ``created_at``
    aware (``+00:00``, current) or naive (older upstream's ``utcnow()``, and the fixtures); JSON
    with ``ensure_ascii=False`` (upstream) or the default escaping (how the fixtures were hashed).
    """
    expected = (decision.hash or "").strip().lower()
    if len(expected) != 64:
        return False
    templates: list[tuple[bool, str, str]] = []
    for seniority in (True, False):
        for ensure_ascii in (False, True):
            prefix, suffix = _hash_template(decision, seniority, ensure_ascii)
            for aware in (True, False):
                if (aware, prefix, suffix) not in templates:
                    templates.append((aware, prefix, suffix))
    base = decision.created_at * _MICROS_PER_MS
    # Whole milliseconds first (the fixtures, and producers that send what they hashed), then
    # each form through the remainders, the current upstream form first.
    if any(_hashes_to(expected, t, f'"{_iso(base, t[0])}"') for t in templates):
        return True
    stamps: dict[bool, list[str]] = {}
    for template in templates:
        aware = template[0]
        if aware not in stamps:  # ISO text is plain ASCII: its JSON is just quoted
            later = range(base + 1, base + _MICROS_PER_MS + 1)
            stamps[aware] = [f'"{_iso(micros, aware)}"' for micros in later]
        if any(_hashes_to(expected, template, stamp) for stamp in stamps[aware]):
            return True
    return False


def _hashes_to(expected: str, template: tuple[bool, str, str], stamp: str) -> bool:
    _, prefix, suffix = template
    return hashlib.sha256(f"{prefix}{stamp}{suffix}".encode()).hexdigest() == expected


def _hash_template(
    decision: ConsolidatedDecision, seniority: bool, ensure_ascii: bool
) -> tuple[str, str]:
    """The hashed JSON split around where ``created_at`` goes."""
    fields = VOTE_FIELDS + SENIORITY_FIELDS if seniority else VOTE_FIELDS
    doc: dict[str, Any] = decision.model_dump(mode="json", include=set(HASHED_FIELDS))
    doc["specialist_votes"] = [{k: v[k] for k in fields} for v in doc["specialist_votes"]]
    doc["created_at"] = _CREATED
    text = json.dumps(doc, sort_keys=True, ensure_ascii=ensure_ascii)
    prefix, _, suffix = text.partition(json.dumps(_CREATED, ensure_ascii=ensure_ascii))
    return prefix, suffix


def _iso(micros: int, aware: bool) -> str:
    """``datetime.isoformat()`` of an epoch instant in microseconds (no fraction when it is 0,
    exactly as Python writes it)."""
    seconds, fraction = divmod(micros, 1_000_000)
    text = _iso_second(seconds)
    if fraction:
        text = f"{text}.{fraction:06d}"
    return f"{text}+00:00" if aware else text


@lru_cache(maxsize=8)
def _iso_second(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat()
